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
    public async Task A_destination_that_is_down_does_not_delay_another()
    {
        var downPort = Tools.FreePort();
        await using var gateway = await GatewayRun.StartAsync(o =>
        {
            o.Destinations.Add(new DestinationOptions { Name = "down", Host = "127.0.0.1", Port = downPort, AeTitle = "DOWN" });
            o.Routes[0].Destinations = ["down", "scp"];
            o.Jobs.MaxAttempts = 50;
        });

        var watch = Stopwatch.StartNew();
        await gateway.StoreScuAsync([Corpus.Pydicom("MR_small.dcm")]);
        await gateway.WaitForReceivedAsync(1, Patience);
        var elapsed = watch.Elapsed;
        await Tools.WaitForAsync(async () => (await gateway.Index.ListExportsAsync("down")).Any(e => e.Attempts >= 3), Patience, "retries to the down destination");

        // StableSeconds (1) plus the inference; the down destination's retries run alongside, not in front.
        Assert.True(elapsed < TimeSpan.FromSeconds(30), $"the working destination got its instance after {elapsed}");
        var down = Assert.Single(await gateway.Index.ListExportsAsync("down"));
        Assert.Equal(ExportState.Queued, down.State);
        Assert.Equal(ExportState.Done, Assert.Single(await gateway.Index.ListExportsAsync("scp")).State);
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
