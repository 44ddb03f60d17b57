using System.Net;
using System.Net.Sockets;

namespace MedfusionDicom.Grpc.Tests.Infrastructure;

/// <summary>
/// A loopback TCP relay between a client and a server. It counts the bytes the client sends (to see compression on
/// the wire) and can freeze: connections stay open but nothing passes, like a peer that hangs or a dead network path,
/// which only keepalive pings detect.
/// </summary>
public sealed class TcpRelay : IAsyncDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly int targetPort;
    private readonly CancellationTokenSource stopping = new();
    private readonly TaskCompletionSource thawed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Socket> sockets = [];
    private readonly Task acceptLoop;
    private long clientToServerBytes;
    private long serverToClientBytes;
    private volatile bool frozen;

    public TcpRelay(int targetPort)
    {
        this.targetPort = targetPort;
        listener.Start();
        acceptLoop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;

    public long ClientToServerBytes => Interlocked.Read(ref clientToServerBytes);

    public long ServerToClientBytes => Interlocked.Read(ref serverToClientBytes);

    public int ConnectionCount { get; private set; }

    public void Freeze() => frozen = true;

    public async ValueTask DisposeAsync()
    {
        stopping.Cancel();
        listener.Stop();
        thawed.TrySetResult();
        lock (sockets)
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }

        try
        {
            await acceptLoop;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task AcceptAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            var client = await listener.AcceptSocketAsync(stopping.Token);
            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await server.ConnectAsync(IPAddress.Loopback, targetPort, stopping.Token);
            lock (sockets)
            {
                sockets.Add(client);
                sockets.Add(server);
                ConnectionCount++;
            }

            _ = PumpAsync(client, server, toServer: true);
            _ = PumpAsync(server, client, toServer: false);
        }
    }

    private async Task PumpAsync(Socket from, Socket to, bool toServer)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, stopping.Token);
                if (frozen)
                {
                    await thawed.Task; // swallow everything from now on, holding the connection open
                    return;
                }

                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }

                Interlocked.Add(ref toServer ? ref clientToServerBytes : ref serverToClientBytes, read);

                await to.SendAsync(buffer.AsMemory(0, read), stopping.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }
}
