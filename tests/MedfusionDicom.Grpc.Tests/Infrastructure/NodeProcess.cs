using System.Diagnostics;

namespace MedfusionDicom.Grpc.Tests.Infrastructure;

/// <summary>
/// A node script of tests/interop/node, started after scripts/bootstrap-node has installed grpc-js. Its stdin stays
/// open while it should live: closing it (or this process dying) ends the peer.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private static readonly SemaphoreSlim BootstrapOnce = new(1, 1);
    private static bool bootstrapped;

    private readonly Process process;

    private NodeProcess(Process process) => this.process = process;

    public StreamWriter Input => process.StandardInput;

    public StreamReader Output => process.StandardOutput;

    public static async Task<NodeProcess> StartAsync(string script, params string[] arguments)
    {
        await EnsureBootstrappedAsync();
        var start = new ProcessStartInfo("node") { WorkingDirectory = RepoPaths.NodePeerDirectory, RedirectStandardInput = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        return new NodeProcess(process);
    }

    /// <summary>Reads stdout until a line starting with the prefix, failing if node exits or stays silent.</summary>
    public async Task<string> WaitForLineAsync(string prefix)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await Output.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return line;
            }
        }

        throw new InvalidOperationException($"node exited before printing '{prefix}'");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            process.StandardInput.Close();
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await process.WaitForExitAsync(grace.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
        }
        finally
        {
            process.Dispose();
        }
    }

    private static async Task EnsureBootstrappedAsync()
    {
        await BootstrapOnce.WaitAsync();
        try
        {
            if (bootstrapped)
            {
                return;
            }

            using var bootstrap = Process.Start(new ProcessStartInfo("bash", [Path.Combine(RepoPaths.Root, "scripts", "bootstrap-node")]))
                ?? throw new InvalidOperationException("bash did not start");
            await bootstrap.WaitForExitAsync();
            if (bootstrap.ExitCode != 0)
            {
                throw new InvalidOperationException($"scripts/bootstrap-node failed with {bootstrap.ExitCode}");
            }

            bootstrapped = true;
        }
        finally
        {
            BootstrapOnce.Release();
        }
    }
}
