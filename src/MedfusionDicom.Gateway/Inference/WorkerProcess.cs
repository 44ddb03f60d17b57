using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Gateway.Inference;

/// <summary>
/// The gateway's own worker as a child process (Workers:N:Address "child"): `medfusion worker` on a loopback port,
/// started by the gateway, watching it (it stops when the gateway is gone, even after SIGKILL) and restarted by it
/// when it dies. Inference then has a memory and a CPU priority of its own: the gateway's RSS is that of ingest and
/// export (bench/RESULTS.md, benchmark 4), and a crash in the native model code takes no acknowledged instance with it.
/// </summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private static readonly TimeSpan RestartDelay = TimeSpan.FromSeconds(1);
    private readonly WorkerEndpointOptions _options;
    private readonly string _modelsDirectory;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Process? _process;
    private Task? _supervision;

    private WorkerProcess(WorkerEndpointOptions options, string modelsDirectory, int port, ILogger logger)
    {
        _options = options;
        _modelsDirectory = modelsDirectory;
        _logger = logger;
        Address = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}"));
    }

    /// <summary>Where the child serves: the same address across restarts, so that the pool's channel reconnects.</summary>
    public Uri Address { get; }

    /// <summary>The running child's process id (0 between a death and its restart).</summary>
    public int ProcessId => _process is { HasExited: false } p ? p.Id : 0;

    /// <summary>Starts the child; the caller waits for it to serve (health) through the pool's endpoint.</summary>
    public static WorkerProcess Start(WorkerEndpointOptions options, string modelsDirectory, ILogger logger)
    {
        var worker = new WorkerProcess(options, modelsDirectory, FreeLoopbackPort(), logger);
        worker._process = worker.Launch();
        worker._supervision = worker.SuperviseAsync();
        return worker;
    }

    private Process Launch()
    {
        // The worker lowers its sampling threads to Niceness itself; the rest of it (gRPC) keeps the gateway's priority.
        var start = MedfusionCommand.StartInfo("worker", [], niceness: 0);
        var environment = new Dictionary<string, string>
        {
            ["Worker__ListenAddress"] = "127.0.0.1",
            ["Worker__Port"] = Address.Port.ToString(CultureInfo.InvariantCulture),
            ["Worker__ModelsDirectory"] = _modelsDirectory,
            ["Worker__Scheduler__DynamicBatching"] = "false",
            ["Worker__Scheduler__Niceness"] = _options.Niceness.ToString(CultureInfo.InvariantCulture),
            ["Worker__Tiling__MemoryBudgetMegabytes"] = _options.MemoryBudgetMegabytes.ToString(CultureInfo.InvariantCulture),
            ["Worker__ParentProcessId"] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in environment) start.Environment["MEDFUSION_" + key] = value;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start");
        _ = ForwardAsync(process.StandardOutput, LogLevel.Debug);
        _ = ForwardAsync(process.StandardError, LogLevel.Warning);
        GatewayLog.WorkerProcessStarted(_logger, _options.Name, process.Id, Address.ToString());
        return process;
    }

    /// <summary>A child that dies while the gateway runs is started again on the same port.</summary>
    private async Task SuperviseAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            var process = _process!;
            try
            {
                await process.WaitForExitAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            GatewayLog.WorkerProcessExited(_logger, _options.Name, process.Id, process.ExitCode);
            process.Dispose();
            try
            {
                await Task.Delay(RestartDelay, _stopping.Token).ConfigureAwait(false);
                _process = Launch();
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                GatewayLog.WorkerProcessFailed(_logger, _options.Name, ex);
            }
        }
    }

    private async Task ForwardAsync(StreamReader reader, LogLevel level)
    {
        try
        {
            while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
                if (_logger.IsEnabled(level)) GatewayLog.WorkerProcessOutput(_logger, level, _options.Name, line);
        }
        catch (IOException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_supervision is not null) await _supervision.ConfigureAwait(false);
        if (_process is { } process)
        {
            try
            {
                if (!process.HasExited) process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
            {
            }

            process.Dispose();
        }

        _stopping.Dispose();
    }
}
