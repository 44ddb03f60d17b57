using System.Diagnostics;
using Grpc.Core;
using MedfusionDicom.Dimse.Tests;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>
/// Workers:N:Address "child" (the shipped default): the gateway runs `medfusion worker` as a process of its own, starts
/// it again when it dies, and the worker stops when the gateway is killed, so that no orphan keeps the models' memory.
/// </summary>
public sealed class ChildWorkerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(180);

    [Fact]
    public async Task The_child_worker_runs_the_jobs_comes_back_after_a_kill_and_stops_when_the_gateway_is_killed()
    {
        using var dir = new TempDir();
        var destinationPort = Tools.FreePort();
        var dimsePort = Tools.FreePort();
        var options = GatewayRun.TestOptions(dir, destinationPort);
        options.Dimse.Port = dimsePort;
        options.Workers = [new WorkerEndpointOptions { Name = "local", Address = "child", MaxConcurrency = 2 }];
        var settings = GatewayProcess.WriteSettings(options, Path.Combine(dir.Path, "site.json"));
        var received = dir.Sub("received");
        await using var destination = new PeerProcess("storescp", ["-aet", GatewayRun.DestinationAe, "-od", received, "-uf", GatewayProcess.Port(destinationPort)]);
        await Tools.WaitForAsync(() => Tools.PortOpenAsync(destinationPort), TimeSpan.FromSeconds(10), "storescp");
        await using var gateway = await GatewayProcess.StartAsync(settings, dimsePort);

        Task<ToolResult> Send(int count) =>
            Tools.RunAsync("storescu", ["-aec", options.Dimse.AeTitle, "127.0.0.1", GatewayProcess.Port(dimsePort), .. TestSeries.Mr(dir, count)], TimeSpan.FromMinutes(3));

        Assert.Equal(0, (await Send(2)).ExitCode);
        await Tools.WaitForAsync(() => Task.FromResult(Directory.GetFiles(received).Length >= 2), Patience, "2 derived instances from the child worker");
        var first = Assert.Single(WorkerChildren(gateway.Id));

        // A worker that dies is started again, and serves the next jobs.
        Process.GetProcessById(first).Kill();
        await Tools.WaitForAsync(() => Task.FromResult(WorkerChildren(gateway.Id).Any(pid => pid != first)), TimeSpan.FromSeconds(60), "a new worker process");
        Assert.Equal(0, (await Send(2)).ExitCode);
        await Tools.WaitForAsync(() => Task.FromResult(Directory.GetFiles(received).Length >= 4), Patience, "2 more derived instances after the restart");

        // SIGKILL of the gateway alone (not its process tree): the worker sees its parent gone and stops.
        var second = Assert.Single(WorkerChildren(gateway.Id));
        Process.GetProcessById(gateway.Id).Kill(entireProcessTree: false);
        await Tools.WaitForAsync(() => Task.FromResult(!File.Exists($"/proc/{second}/stat") || IsZombie(second)), TimeSpan.FromSeconds(15), "the orphaned worker to stop");
    }

    [Fact]
    public async Task A_cohort_job_of_a_medfusion_gateway_runs_in_a_child_process_at_nice_19_and_its_instances_reach_the_destination()
    {
        using var dir = new TempDir();
        var destinationPort = Tools.FreePort();
        var dimsePort = Tools.FreePort();
        var apiPort = Tools.FreePort();
        var options = GatewayRun.TestOptions(dir, destinationPort);
        options.Dimse.Port = dimsePort;
        options.Grpc.Url = $"http://127.0.0.1:{apiPort}";
        Directory.CreateSymbolicLink(Path.Combine(options.ModelsDirectory, "medfusion-cxr"), Path.Combine(GatewayRun.RepoRoot, "models", "medfusion-cxr"));
        var settings = GatewayProcess.WriteSettings(options, Path.Combine(dir.Path, "site.json"));
        var received = dir.Sub("received");
        await using var destination = new PeerProcess("storescp", ["-aet", GatewayRun.DestinationAe, "-od", received, "-uf", GatewayProcess.Port(destinationPort)]);
        await Tools.WaitForAsync(() => Tools.PortOpenAsync(destinationPort), TimeSpan.FromSeconds(10), "storescp");
        await using var gateway = await GatewayProcess.StartAsync(settings, dimsePort);
        // The API starts after the DIMSE port, once the index and the workers are up.
        await Tools.WaitForAsync(() => Tools.PortOpenAsync(apiPort), TimeSpan.FromSeconds(30), "the gateway's gRPC API");
        using var channel = MedfusionDicom.Grpc.Client.GrpcClientChannel.ForAddress(options.Grpc.Url);
        var client = new Medfusion.V1.Gateway.GatewayClient(channel.Channel);

        var job = await client.StartCohortAsync(new Medfusion.V1.StartCohortRequest
        {
            Model = "medfusion-cxr",
            Patients = 6,
            ImagesPerPatient = 2,
            Mix = { new Medfusion.V1.LabelShare { Label = "PNEUMONIA", Fraction = 1 } },
            Destinations = { "scp" },
        });
        var niceness = new List<int>();
        var sawProgress = false;
        using var watch = client.WatchCohort(new Medfusion.V1.CohortJobRequest { Id = job.Id }, deadline: DateTime.UtcNow.AddMinutes(5));
        Medfusion.V1.CohortJob last = job;
        await foreach (var update in watch.ResponseStream.ReadAllAsync())
        {
            last = update;
            if (update.State == "running" && update.ImagesDone is > 0 and < 12) sawProgress = true;
            niceness.AddRange(Children(gateway.Id, "cohort").Select(Nice).Where(n => n is not null).Select(n => n!.Value));
        }
        Assert.True(last.State == "done", $"{last.State}: {last.Error}");
        Assert.True(sawProgress, "the job reported images done while it ran");
        Assert.NotEmpty(niceness);
        Assert.All(niceness, n => Assert.Equal(19, n));
        Assert.Equal(6, last.StudyInstanceUids.Count);
        await Tools.WaitForAsync(() => Task.FromResult(Directory.GetFiles(received).Length >= 12), TimeSpan.FromSeconds(60), "the cohort's 12 instances at storescp");
    }

    /// <summary>The `medfusion worker` processes whose parent is <paramref name="parent"/>.</summary>
    private static List<int> WorkerChildren(int parent) => Children(parent, "worker");

    /// <summary>The `medfusion VERB` processes whose parent is <paramref name="parent"/> (directly, or through coreutils' nice, which execs).</summary>
    private static List<int> Children(int parent, string verb)
    {
        var children = new List<int>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1]) != parent || fields[0] == "Z") continue;
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (cmdline.Contains(verb)) children.Add(pid);
            }
            catch (IOException)
            {
            }
        }
        return children;
    }

    /// <summary>The nice value of a process's main thread (field 19 of /proc/PID/stat).</summary>
    private static int? Nice(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[16], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null; // it has just ended
        }
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return true;
        }
    }
}
