using System.Globalization;

namespace MedfusionDicom.Grpc.Tests.Infrastructure;

/// <summary>tests/interop/node/server.js: grpc-js serving EchoService and Health on 127.0.0.1.</summary>
public sealed class NodeEchoServer : IAsyncDisposable
{
    private readonly NodeProcess node;

    private NodeEchoServer(NodeProcess node, int port)
    {
        this.node = node;
        Port = port;
    }

    public int Port { get; }

    public string Target => $"127.0.0.1:{Port}";

    public static async Task<NodeEchoServer> StartAsync(params string[] arguments)
    {
        var node = await NodeProcess.StartAsync("server.js", arguments);
        var line = await node.WaitForLineAsync("LISTENING ");
        return new NodeEchoServer(node, int.Parse(line["LISTENING ".Length..], CultureInfo.InvariantCulture));
    }

    public ValueTask DisposeAsync() => node.DisposeAsync();
}
