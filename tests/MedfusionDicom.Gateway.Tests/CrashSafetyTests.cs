using MedfusionDicom.Dicom;
using MedfusionDicom.Dimse.Tests;
using MedfusionDicom.Gateway.Storage;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>
/// The gateway killed with SIGKILL at the moments where work is half done, then started again on the same data: the
/// destination ends with exactly the derived instances expected, none missing and none twice under another UID, and
/// nothing that was acknowledged is lost.
/// </summary>
public sealed class CrashSafetyTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(180);

    /// <summary>A settings file, a destination port and an index reader over the gateway's data folder.</summary>
    private sealed class Setup : IAsyncDisposable
    {
        public Setup(Action<GatewayOptions>? configure = null)
        {
            DestinationPort = Tools.FreePort();
            DimsePort = Tools.FreePort();
            Options = GatewayRun.TestOptions(Dir, DestinationPort);
            Options.Dimse.Port = DimsePort;
            Options.Routes[0].Match = new() { ["Modality"] = ["MR"] };
            configure?.Invoke(Options);
            Settings = GatewayProcess.WriteSettings(Options, Path.Combine(Dir.Path, "site.json"));
            Received = Dir.Sub("received");
            Index = GatewayIndex.ForDataDirectory(Options.DataDirectory);
        }

        public TempDir Dir { get; } = new();
        public GatewayOptions Options { get; }
        public string Settings { get; }
        public int DestinationPort { get; }
        public int DimsePort { get; }
        public string Received { get; }
        public GatewayIndex Index { get; }
        public PeerProcess? Destination { get; private set; }

        public Task<GatewayProcess> StartGatewayAsync() => GatewayProcess.StartAsync(Settings, DimsePort);

        public async Task StartDestinationAsync()
        {
            Destination = new PeerProcess("storescp", ["-aet", GatewayRun.DestinationAe, "-od", Received, "-uf", GatewayProcess.Port(DestinationPort)]);
            await Tools.WaitForAsync(() => Tools.PortOpenAsync(DestinationPort), TimeSpan.FromSeconds(10), "storescp");
        }

        public Task<ToolResult> SendAsync(IEnumerable<string> files) =>
            Tools.RunAsync("storescu", ["-v", "-aec", Options.Dimse.AeTitle, "127.0.0.1", GatewayProcess.Port(DimsePort), .. files], TimeSpan.FromMinutes(3));

        public async Task<IReadOnlyList<JobRecord>> JobsAsync() => File.Exists(Path.Combine(Options.DataDirectory, "index.db")) ? await Index.ListJobsAsync() : [];

        /// <summary>Waits until storescp holds <paramref name="count"/> files, then a little longer to see that no more come.</summary>
        public async Task<IReadOnlyList<string>> ReceivedExactlyAsync(int count)
        {
            await Tools.WaitForAsync(() => Task.FromResult(Directory.GetFiles(Received).Length >= count), Patience, $"{count} instance(s) at storescp");
            await Task.Delay(2000);
            var files = Directory.GetFiles(Received);
            var uids = files.Select(f => DicomFile.Open(f).Dataset.GetString(DicomTag.SOPInstanceUID)).ToList();
            Assert.Equal(count, uids.Distinct().Count());
            return uids;
        }

        public async ValueTask DisposeAsync()
        {
            if (Destination is not null) await Destination.DisposeAsync();
            Dir.Dispose();
        }
    }

    [Fact]
    public async Task Killed_mid_inference_the_job_runs_again_and_the_destination_gets_one_copy()
    {
        await using var setup = new Setup(o => o.Routes[0].Pipeline.Steps = 200); // slow enough to be caught at work
        await setup.StartDestinationAsync();
        var files = TestSeries.Mr(setup.Dir, 2);
        var gateway = await setup.StartGatewayAsync();
        await setup.SendAsync(files);
        await Tools.WaitForAsync(async () => (await setup.JobsAsync()).Any(j => j.State == JobState.Leased), Patience, "a job at work");

        await gateway.KillAsync();
        await using var restarted = await setup.StartGatewayAsync();

        var uids = await setup.ReceivedExactlyAsync(2);
        Assert.All(await setup.JobsAsync(), j => Assert.Equal(JobState.Done, j.State));
        Assert.Equal(uids.Order(), (await setup.JobsAsync()).Select(j => j.ResultSopInstanceUid!).Order());
    }

    [Fact]
    public async Task Killed_after_the_result_was_stored_and_before_its_export_it_is_exported_once()
    {
        // The exports fail until the kill, since the destination is down: enough attempts that none is dead by then,
        // however slowly this machine gets there.
        await using var setup = new Setup(o => o.Jobs.MaxAttempts = 1000);
        var files = TestSeries.Mr(setup.Dir, 3);
        var gateway = await setup.StartGatewayAsync(); // the destination is not up yet
        await setup.SendAsync(files);
        await Tools.WaitForAsync(async () => (await setup.JobsAsync()) is { Count: 3 } jobs && jobs.All(j => j.State == JobState.Done), Patience, "three jobs done");

        await gateway.KillAsync();
        await setup.StartDestinationAsync();
        await using var restarted = await setup.StartGatewayAsync();

        await setup.ReceivedExactlyAsync(3);
    }

    [Fact]
    public async Task Killed_after_the_study_was_received_and_before_it_was_routed_it_is_routed_once()
    {
        await using var setup = new Setup(o => o.Assembly.StableSeconds = 4);
        await setup.StartDestinationAsync();
        var files = TestSeries.Mr(setup.Dir, 3);
        var gateway = await setup.StartGatewayAsync();
        var sent = await setup.SendAsync(files);
        Assert.True(sent.ExitCode == 0, sent.Output);

        await gateway.KillAsync(); // within StableSeconds: nothing routed yet
        Assert.Empty(await setup.JobsAsync());
        await using var restarted = await setup.StartGatewayAsync();

        await setup.ReceivedExactlyAsync(3);
        Assert.Equal(3, (await setup.JobsAsync()).Count);
    }

    [Fact]
    public async Task Killed_while_receiving_every_acknowledged_instance_survives_and_is_processed()
    {
        await using var setup = new Setup();
        await setup.StartDestinationAsync();
        // Enough instances that the transfer takes about a second even on a fast machine, so the kill lands in it.
        var files = TestSeries.Mr(setup.Dir, 600);
        var gateway = await setup.StartGatewayAsync();
        var sending = setup.SendAsync(files);
        await Tools.WaitForAsync(async () => (await IndexedAsync(setup)) >= 20, Patience, "the first instances indexed");

        await gateway.KillAsync();
        var sent = await sending;
        var acknowledged = sent.Output.Split('\n').Count(l => l.Contains("Received Store Response (Success)", StringComparison.Ordinal));
        var indexed = await IndexedAsync(setup);
        Assert.InRange(acknowledged, 1, files.Count - 1); // the kill really came mid-transfer
        Assert.True(indexed >= acknowledged, $"{acknowledged} acknowledged, {indexed} in the index");
        await using var restarted = await setup.StartGatewayAsync();

        // The one instance that was complete in the journal but not yet answered (its index row not yet written) is
        // kept too: the start indexes it from the journal, and its sender's retry will replace it under the same UID.
        IReadOnlyList<JobRecord> jobs = [];
        await Tools.WaitForAsync(async () => (jobs = await setup.JobsAsync()).Count >= indexed && jobs.All(j => j.State == JobState.Done), Patience, "every indexed instance processed");
        var sources = await IndexedAsync(setup);
        Assert.InRange(sources, indexed, indexed + 1);
        await setup.ReceivedExactlyAsync(sources);
    }

    [Fact]
    public async Task Killed_mid_export_the_destination_ends_with_every_instance_once()
    {
        await using var setup = new Setup();
        await setup.StartDestinationAsync();
        var files = TestSeries.Mr(setup.Dir, 30);
        var gateway = await setup.StartGatewayAsync();
        await setup.SendAsync(files);
        await Tools.WaitForAsync(() => Task.FromResult(Directory.GetFiles(setup.Received).Length >= 3), Patience, "the first exports");

        await gateway.KillAsync();
        var before = Directory.GetFiles(setup.Received).Length;
        Assert.InRange(before, 3, files.Count - 1); // the kill came while exports were under way
        await using var restarted = await setup.StartGatewayAsync();

        await setup.ReceivedExactlyAsync(files.Count);
    }

    [Fact]
    public async Task Index_rows_a_power_cut_took_are_restored_from_the_store_journal_at_start()
    {
        await using var setup = new Setup(o => o.Assembly.StableSeconds = 4);
        await setup.StartDestinationAsync();
        var files = TestSeries.Mr(setup.Dir, 3);
        var gateway = await setup.StartGatewayAsync();
        var sent = await setup.SendAsync(files);
        await gateway.KillAsync(); // at once: the journal has not checkpointed (it waits for a second of quiet)
        Assert.True(sent.ExitCode == 0, sent.Output);

        // What a power cut can do to commits that were not synced on their own: the rows are gone, the files are not.
        await using (var index = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(setup.Options.DataDirectory, "index.db")};Pooling=False"))
        {
            await index.OpenAsync();
            await using var delete = index.CreateCommand();
            delete.CommandText = "DELETE FROM instances; DELETE FROM studies;";
            Assert.Equal(4, await delete.ExecuteNonQueryAsync()); // three instances, one study
        }

        await using var restarted = await setup.StartGatewayAsync();

        await setup.ReceivedExactlyAsync(3);
        Assert.Equal(3, (await setup.Index.ListInstancesAsync()).Count(i => !i.Derived));
    }

    private static async Task<int> IndexedAsync(Setup setup) =>
        File.Exists(Path.Combine(setup.Options.DataDirectory, "index.db")) ? (await setup.Index.ListInstancesAsync()).Count(i => !i.Derived) : 0;
}
