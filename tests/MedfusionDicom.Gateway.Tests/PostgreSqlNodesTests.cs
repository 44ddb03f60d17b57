using MedfusionDicom.Dicom;
using MedfusionDicom.Dimse.Tests;
using MedfusionDicom.Gateway.Storage;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>
/// Two gateway nodes, each a process of its own, share one PostgreSQL and one data directory: a study sent to node A
/// is processed exactly once between them, and when node A dies mid-job node B finishes it once A's lease runs out.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgreSqlNodesTests(PostgresCluster postgres)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(240);

    private sealed class Cluster : IAsyncDisposable
    {
        private readonly PeerProcess _destination;

        private Cluster(GatewayOptions baseOptions, PeerProcess destination, string received, TempDir dir)
        {
            Options = baseOptions;
            _destination = destination;
            Received = received;
            Dir = dir;
            Index = GatewayIndex.Open(baseOptions.Database, baseOptions.DataDirectory);
        }

        public TempDir Dir { get; }
        public GatewayOptions Options { get; }
        public string Received { get; }
        public GatewayIndex Index { get; }

        public static async Task<Cluster> StartAsync(PostgresCluster postgres, Action<GatewayOptions>? configure = null)
        {
            var dir = new TempDir();
            var destinationPort = Tools.FreePort();
            var received = dir.Sub("received");
            var destination = new PeerProcess("storescp", ["-aet", GatewayRun.DestinationAe, "-od", received, "-uf", GatewayProcess.Port(destinationPort)]);
            await Tools.WaitForAsync(() => Tools.PortOpenAsync(destinationPort), TimeSpan.FromSeconds(10), "storescp");
            var options = GatewayRun.TestOptions(dir, destinationPort);
            options.Database = new DatabaseOptions { Provider = DatabaseProvider.PostgreSql, ConnectionString = await postgres.CreateDatabaseAsync() };
            options.Routes[0].Match = new() { ["Modality"] = ["MR"] };
            configure?.Invoke(options);
            return new Cluster(options, destination, received, dir);
        }

        /// <summary>Starts node <paramref name="name"/>: the shared settings with its own name and DIMSE port.</summary>
        public async Task<(GatewayProcess Process, int DimsePort)> StartNodeAsync(string name)
        {
            Options.NodeName = name;
            Options.Dimse.Port = Tools.FreePort();
            var settings = GatewayProcess.WriteSettings(Options, Path.Combine(Dir.Path, $"{name}.json"));
            return (await GatewayProcess.StartAsync(settings, Options.Dimse.Port), Options.Dimse.Port);
        }

        public Task<ToolResult> SendAsync(int dimsePort, IEnumerable<string> files) =>
            Tools.RunAsync("storescu", ["-aec", Options.Dimse.AeTitle, "127.0.0.1", GatewayProcess.Port(dimsePort), .. files], TimeSpan.FromMinutes(3));

        public async Task<IReadOnlyList<string>> ReceivedExactlyAsync(int count)
        {
            await Tools.WaitForAsync(() => Task.FromResult(Directory.GetFiles(Received).Length >= count), Patience, $"{count} instance(s) at storescp");
            await Task.Delay(2000);
            var uids = Directory.GetFiles(Received).Select(f => DicomFile.Open(f).Dataset.GetString(DicomTag.SOPInstanceUID)).ToList();
            Assert.Equal(count, uids.Count);
            return uids;
        }

        public async ValueTask DisposeAsync()
        {
            await _destination.DisposeAsync();
            Dir.Dispose();
        }
    }

    private static void AssertNodeLog(string output, string node)
    {
        Assert.Contains($"Gateway node: {node}", output, StringComparison.Ordinal);
        Assert.Contains("Gateway database: PostgreSQL postgres@127.0.0.1", output, StringComparison.Ordinal);
    }

    private static int JobsDoneIn(string output) => output.Split('\n').Count(l => l.Contains(" done: ", StringComparison.Ordinal) && l.Contains("Job ", StringComparison.Ordinal));

    [Fact]
    public async Task A_study_sent_to_node_A_is_processed_exactly_once_by_the_two_nodes()
    {
        await using var cluster = await Cluster.StartAsync(postgres);
        var files = TestSeries.Mr(cluster.Dir, 8);
        var (a, portA) = await cluster.StartNodeAsync("node-a");
        var (b, _) = await cluster.StartNodeAsync("node-b");

        var sent = await cluster.SendAsync(portA, files);
        Assert.True(sent.ExitCode == 0, sent.Output);
        var exported = await cluster.ReceivedExactlyAsync(files.Count);

        var jobs = await cluster.Index.ListJobsAsync();
        Assert.Equal(files.Count, jobs.Count);
        Assert.All(jobs, j => Assert.Equal((JobState.Done, 1), (j.State, j.Attempts)));
        Assert.Equal(exported.Order(), jobs.Select(j => j.ResultSopInstanceUid!).Order());
        Assert.All(await cluster.Index.ListExportsAsync(), e => Assert.Equal((ExportState.Done, 1), (e.State, e.Attempts)));
        Assert.Equal(files.Count, (await cluster.Index.ListInstancesAsync()).Count(i => i.Derived));
        var logA = await a.KillAsync();
        var logB = await b.KillAsync();
        AssertNodeLog(logA, "node-a");
        AssertNodeLog(logB, "node-b");
        Assert.Equal(files.Count, JobsDoneIn(logA) + JobsDoneIn(logB)); // each job ran to its end on one node only
    }

    [Fact]
    public async Task Node_A_killed_mid_job_node_B_finishes_it_after_the_lease_runs_out()
    {
        // Slow jobs and a short lease: node A is caught at work, and its lease runs out soon after it dies.
        await using var cluster = await Cluster.StartAsync(postgres, o =>
        {
            o.Routes[0].Pipeline.Steps = 150;
            o.Jobs.LeaseSeconds = 4;
        });
        var files = TestSeries.Mr(cluster.Dir, 4);
        var (a, portA) = await cluster.StartNodeAsync("node-a");
        var (b, _) = await cluster.StartNodeAsync("node-b");
        Assert.True((await cluster.SendAsync(portA, files)).ExitCode == 0);
        JobRecord? held = null;
        await Tools.WaitForAsync(async () => (held = (await cluster.Index.ListJobsAsync())
                .FirstOrDefault(j => j.State == JobState.Leased && j.LeaseOwner!.StartsWith("node-a:", StringComparison.Ordinal))) is not null,
            Patience, "a job at work on node A");

        await a.KillAsync();
        var orphan = (await cluster.Index.ListJobsAsync()).Single(j => j.Id == held!.Id);
        Assert.Equal((JobState.Leased, held!.Attempts), (orphan.State, orphan.Attempts)); // A died with the job unfinished
        Assert.StartsWith("node-a:", orphan.LeaseOwner, StringComparison.Ordinal);

        var exported = await cluster.ReceivedExactlyAsync(files.Count);
        var jobs = await cluster.Index.ListJobsAsync();
        Assert.All(jobs, j => Assert.Equal(JobState.Done, j.State));
        Assert.Equal(exported.Order(), jobs.Select(j => j.ResultSopInstanceUid!).Order());
        var finished = jobs.Single(j => j.Id == held.Id);
        Assert.Equal(orphan.Attempts + 1, finished.Attempts); // taken again, once
        Assert.True(finished.UpdatedAtMs >= orphan.LeaseExpiresMs, $"finished at {finished.UpdatedAtMs}, before A's lease ran out at {orphan.LeaseExpiresMs}");
        Assert.Equal(files.Count, (await cluster.Index.ListInstancesAsync()).Count(i => i.Derived));
        Assert.Contains($"Job {held.Id} done: ", await b.KillAsync(), StringComparison.Ordinal);
    }
}
