using System.Diagnostics;
using MedfusionDicom.Dimse.Tests;
using MedfusionDicom.Gateway.Storage;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>Workers and destinations that fail: nothing is lost, and one failing destination delays no other.</summary>
public sealed class FaultTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(180);

    /// <summary>`medfusion worker` in its own process on a fixed port, so that it can be killed and started again.</summary>
    private static PeerProcess StartWorker(string models, int port) =>
        new("dotnet", [GatewayProcess.Cli, "worker", "--port", GatewayProcess.Port(port), "--models", models, "--device", "cpu"]);

    [Fact]
    public async Task A_worker_killed_mid_job_costs_a_retry_and_the_job_completes()
    {
        using var scratch = new TempDir();
        var models = GatewayRun.LinkModels(scratch);
        var port = Tools.FreePort();
        var worker = StartWorker(models, port);
        await Tools.WaitForAsync(() => Tools.PortOpenAsync(port), Patience, "the worker");
        await using var gateway = await GatewayRun.StartAsync(o =>
        {
            o.Workers = [new WorkerEndpointOptions { Name = "remote", Address = $"http://127.0.0.1:{port}", MaxConcurrency = 1 }];
            o.Routes[0].Pipeline.Steps = 200; // slow enough to be killed at work
        });

        await gateway.StoreScuAsync([Corpus.Pydicom("MR_small.dcm")]);
        await gateway.WaitForJobsAsync(j => j.Count == 1 && j[0].State == JobState.Leased, Patience);
        await Task.Delay(500);
        await worker.DisposeAsync(); // SIGKILL, mid-sampling
        await using var restarted = StartWorker(models, port);

        var jobs = await gateway.WaitForJobsAsync(j => j.Count == 1 && j[0].State == JobState.Done, Patience);
        await gateway.WaitForReceivedAsync(1, Patience);
        Assert.True(jobs[0].Attempts >= 2, $"{jobs[0].Attempts} attempt(s)");
    }

    [Fact]
    public async Task A_destination_down_for_two_minutes_catches_up_when_it_returns_and_delays_no_other_meanwhile()
    {
        var outage = TimeSpan.FromMinutes(2);
        var downPort = Tools.FreePort();
        await using var gateway = await GatewayRun.StartAsync(o =>
        {
            o.Destinations.Add(new DestinationOptions { Name = "down", Host = "127.0.0.1", Port = downPort, AeTitle = "DOWN" });
            o.Routes[0].Destinations = ["down", "scp"];
            o.Jobs.MaxAttempts = 100; // an outage this long must not kill its exports
            o.Jobs.MaxRetrySeconds = 5;
        });
        var outageStarted = Stopwatch.StartNew();

        // Two studies while the destination is down, one at the start of the outage and one in its middle: the
        // working destination gets each as fast as if nothing were wrong (StableSeconds 1 plus the inference).
        var first = await DeliveryTimeAsync(gateway, TestSeries.Mr(gateway.Dir, 3), expectedAtScp: 3);
        await Task.Delay(outage / 2 - outageStarted.Elapsed);
        var second = await DeliveryTimeAsync(gateway, TestSeries.Mr(gateway.Dir, 3), expectedAtScp: 6);
        Assert.True(first < TimeSpan.FromSeconds(30) && second < TimeSpan.FromSeconds(30), $"the working destination got its instances after {first} and {second}");
        var waiting = await gateway.Index.ListExportsAsync("down");
        Assert.Equal(6, waiting.Count);
        Assert.All(waiting, e => Assert.Equal(ExportState.Queued, e.State));
        Assert.Contains(waiting, e => e.Attempts >= 3);

        await Task.Delay(outage - outageStarted.Elapsed);
        var returned = gateway.Dir.Sub("returned");
        await using var destination = new PeerProcess("storescp", ["-aet", "DOWN", "-od", returned, "-uf", GatewayProcess.Port(downPort)]);
        var back = Stopwatch.StartNew();

        await Tools.WaitForAsync(() => Task.FromResult(Directory.GetFiles(returned).Length >= 6), Patience, "the returned destination catching up");
        Assert.True(back.Elapsed < TimeSpan.FromSeconds(20), $"caught up {back.Elapsed} after it returned"); // MaxRetrySeconds bounds the wait
        Assert.All(await gateway.Index.ListExportsAsync(), e => Assert.Equal(ExportState.Done, e.State));
        Assert.Equal(Directory.GetFiles(gateway.Received).Select(Path.GetFileName).Order(), Directory.GetFiles(returned).Select(Path.GetFileName).Order());
    }

    private static async Task<TimeSpan> DeliveryTimeAsync(GatewayRun gateway, IReadOnlyList<string> files, int expectedAtScp)
    {
        var watch = Stopwatch.StartNew();
        var sent = await gateway.StoreScuAsync(files);
        Assert.True(sent.ExitCode == 0, sent.Output);
        await gateway.WaitForReceivedAsync(expectedAtScp, Patience);
        return watch.Elapsed;
    }

    [Fact]
    public async Task After_MaxAttempts_exports_are_dead_and_jobs_retry_dead_re_drives_them()
    {
        await using var gateway = await GatewayRun.StartAsync(startDestination: false);
        var settings = GatewayProcess.WriteSettings(gateway.Options, Path.Combine(gateway.Dir.Path, "site.json"));

        await gateway.StoreScuAsync([Corpus.Pydicom("MR_small.dcm")]);
        await Tools.WaitForAsync(async () => (await gateway.Index.ListExportsAsync()).Any(e => e.State == ExportState.Dead), Patience, "a dead export");
        await using var destination = new PeerProcess("storescp", ["-aet", GatewayRun.DestinationAe, "-od", gateway.Received, "-uf", GatewayProcess.Port(gateway.Options.Destinations[0].Port)]);
        await Task.Delay(1500);
        Assert.Empty(Directory.GetFiles(gateway.Received)); // dead stays dead until an operator says otherwise
        var retried = await Tools.RunAsync("dotnet", [GatewayProcess.Cli, "jobs", "retry", "--dead", "--config", settings]);

        Assert.True(retried.ExitCode == 0, retried.Output);
        Assert.Contains("1 dead job(s) and export(s) queued again", retried.Stdout, StringComparison.Ordinal);
        await gateway.WaitForReceivedAsync(1, Patience);
    }
}
