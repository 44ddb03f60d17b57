using System.Reflection;
using MedfusionDicom.Dimse.Tests;
using MedfusionDicom.Gateway.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>
/// A gateway in this process on a free DIMSE port, with its own data folder and an embedded worker that loads only
/// the bundled denoiser (so that it starts in seconds), and a dcmtk storescp as its export destination.
/// </summary>
public sealed class GatewayRun : IAsyncDisposable
{
    public const string DestinationAe = "STORESCP";

    private readonly IHost _host;
    private readonly PeerProcess? _storescp;

    private GatewayRun(IHost host, TempDir dir, GatewayOptions options, PeerProcess? storescp, string received, ListLoggerFactory logs)
    {
        _host = host;
        Dir = dir;
        Options = options;
        _storescp = storescp;
        Received = received;
        Logs = logs;
        Service = host.Services.GetRequiredService<GatewayService>();
    }

    public TempDir Dir { get; }
    public GatewayOptions Options { get; }
    public GatewayService Service { get; }
    public GatewayIndex Index => Service.Index;
    public int Port => Service.DimsePort;
    /// <summary>What storescp received.</summary>
    public string Received { get; }
    public ListLoggerFactory Logs { get; }

    public static string RepoRoot { get; } = typeof(GatewayRun).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepoRoot").Value!;

    /// <summary>A models folder with only the named bundled models (the bundled denoiser by default), so that a worker starts in seconds.</summary>
    public static string LinkModels(TempDir dir, params string[] names)
    {
        var models = dir.Sub("models");
        foreach (var name in names.Length == 0 ? ["cdiff-cxr-denoise"] : names)
            Directory.CreateSymbolicLink(Path.Combine(models, name), Path.Combine(RepoRoot, "models", name));
        return models;
    }

    /// <summary>Settings for a test: stable after 1 s, fast retries, the denoiser at 2 steps on MR and DX, exported to storescp.</summary>
    public static GatewayOptions TestOptions(TempDir dir, int destinationPort) => new()
    {
        DataDirectory = dir.Sub("data"),
        ModelsDirectory = LinkModels(dir),
        Dimse = new DimseOptions { AeTitle = "MEDFUSION", Port = 0 },
        DicomWeb = new DicomWebOptions { Url = "" }, // tests that need it pick a free port
        Grpc = new HttpEndpointOptions { Url = "" }, // the same
        Assembly = new AssemblyOptions { StableSeconds = 1 },
        Workers = [new WorkerEndpointOptions { Name = "embedded", Address = "embedded", MaxConcurrency = 2 }],
        Destinations = [new DestinationOptions { Name = "scp", Host = "127.0.0.1", Port = destinationPort, AeTitle = DestinationAe }],
        Routes =
        [
            new RouteOptions
            {
                Name = "denoise",
                Match = new() { ["Modality"] = ["MR", "DX"] },
                Pipeline = new PipelineOptions { Task = "denoise", Model = "cdiff-cxr-denoise", Steps = 2 },
                Destinations = ["scp"],
            },
        ],
        Jobs = new JobOptions { MaxAttempts = 3, InitialRetrySeconds = 0.2, MaxRetrySeconds = 1, LeaseSeconds = 10 },
        Storage = new StorageOptions { MinimumFreeMegabytes = 0 },
    };

    public static async Task<GatewayRun> StartAsync(Action<GatewayOptions>? configure = null, bool startDestination = true)
    {
        var dir = new TempDir();
        var destinationPort = Tools.FreePort();
        var received = dir.Sub("received");
        PeerProcess? storescp = null;
        if (startDestination)
        {
            storescp = new PeerProcess("storescp", ["-aet", DestinationAe, "-od", received, "-uf", destinationPort.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await Tools.WaitForAsync(() => Tools.PortOpenAsync(destinationPort), TimeSpan.FromSeconds(10), "storescp");
        }

        var options = TestOptions(dir, destinationPort);
        configure?.Invoke(options);
        var result = new GatewayOptionsValidator().Validate(null, options);
        if (result.Failed) throw new InvalidOperationException(result.FailureMessage);
        var logs = new ListLoggerFactory();
        var host = GatewayHostBuilder.Build(options, logging => logging.AddProvider(new ForwardingProvider(logs)));
        await host.StartAsync();
        return new GatewayRun(host, dir, options, storescp, received, logs);
    }

    /// <summary>Sends files with dcmtk's storescu; returns its result.</summary>
    public Task<ToolResult> StoreScuAsync(IEnumerable<string> files, string callingAe = "STORESCU") =>
        Tools.RunAsync("storescu", ["-v", "-aet", callingAe, "-aec", Options.Dimse.AeTitle, "127.0.0.1", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. files]);

    public async Task WaitForReceivedAsync(int count, TimeSpan timeout) =>
        await Tools.WaitForAsync(() => Task.FromResult(Directory.GetFiles(Received).Length >= count), timeout, $"{count} instance(s) at storescp");

    public async Task<IReadOnlyList<JobRecord>> WaitForJobsAsync(Func<IReadOnlyList<JobRecord>, bool> done, TimeSpan timeout)
    {
        IReadOnlyList<JobRecord> jobs = [];
        try
        {
            await Tools.WaitForAsync(async () => done(jobs = await Index.ListJobsAsync()), timeout, "jobs");
        }
        catch (TimeoutException ex)
        {
            var states = string.Join("; ", jobs.Select(j => $"{j.Id} {j.State} {j.Attempts} {j.LastError}"));
            var problems = string.Join("\n", Logs.Lines.Where(l => l.Level >= LogLevel.Warning).Select(l => $"{l.Level}: {l.Message} {l.Exception}"));
            throw new TimeoutException($"{ex.Message}; jobs: [{states}]; logged:\n{problems}", ex);
        }

        return jobs;
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        if (_storescp is not null) await _storescp.DisposeAsync();
        Dir.Dispose();
    }

    /// <summary>Lets the host's logging write into the test's ListLoggerFactory.</summary>
    private sealed class ForwardingProvider(ListLoggerFactory logs) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => logs.CreateLogger(categoryName);

        public void Dispose()
        {
        }
    }
}
