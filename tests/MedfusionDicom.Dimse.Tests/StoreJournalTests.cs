using MedfusionDicom.Dicom;

namespace MedfusionDicom.Dimse.Tests;

/// <summary>The write-ahead store journal: what was acknowledged survives a crash, and nothing else is replayed.</summary>
public sealed class StoreJournalTests
{
    private static byte[] Content(int seed, int length)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>What the SCP does with a small instance: journal it, then write and rename its file without a sync.</summary>
    private static void Store(DicomStoreJournal journal, string path, byte[] content)
    {
        var ticket = journal.Append(path, content);
        try
        {
            File.WriteAllBytes(path, content);
        }
        finally
        {
            journal.Completed(ticket);
        }
    }

    [Fact]
    public async Task Acknowledged_instances_whose_files_were_lost_or_torn_are_written_again_at_start_up()
    {
        using var dir = new TempDir();
        var store = dir.Sub("store");
        var journal = DicomStoreJournal.Open(dir.Sub("journal"), 1 << 20);
        var files = Enumerable.Range(0, 5).Select(i => (Path: Path.Combine(store, $"{i}.dcm"), Content: Content(i, 20_000 + i))).ToList();
        foreach (var (path, content) in files) Store(journal, path, content);
        await journal.AbandonAsync(); // a crash: no checkpoint
        File.Delete(files[0].Path);
        File.WriteAllBytes(files[1].Path, []);                                   // renamed, data never reached the disk
        File.WriteAllBytes(files[2].Path, files[2].Content.AsSpan(0, 100).ToArray()); // torn

        await using var reopened = DicomStoreJournal.Open(Path.Combine(dir.Path, "journal"), 1 << 20);

        Assert.Equal(3, reopened.Recovered);
        foreach (var (path, content) in files) Assert.Equal(content, File.ReadAllBytes(path));
        Assert.Empty(Directory.GetFiles(store, ".*"));
    }

    [Fact]
    public async Task A_damaged_record_ends_the_replay_and_is_never_written()
    {
        using var dir = new TempDir();
        var store = dir.Sub("store");
        var journalDir = dir.Sub("journal");
        var journal = DicomStoreJournal.Open(journalDir, 1 << 20);
        var paths = Enumerable.Range(0, 3).Select(i => Path.Combine(store, $"{i}.dcm")).ToList();
        for (var i = 0; i < 3; i++) Store(journal, paths[i], Content(i, 10_000));
        await journal.AbandonAsync();
        foreach (var p in paths) File.Delete(p);
        // The third record was cut off mid-write (its CRC no longer matches): one byte of its data changes.
        var marker = Content(2, 10_000).AsSpan(0, 64).ToArray();
        var segmentPath = Directory.GetFiles(journalDir, "segment-*").Single(f => File.ReadAllBytes(f).AsSpan().IndexOf(marker) > 0);
        var segment = File.ReadAllBytes(segmentPath);
        segment[segment.AsSpan().IndexOf(marker) + 5_000] ^= 0xFF;
        File.WriteAllBytes(segmentPath, segment);

        await using var reopened = DicomStoreJournal.Open(journalDir, 1 << 20);

        Assert.Equal(2, reopened.Recovered);
        Assert.Equal(Content(0, 10_000), File.ReadAllBytes(paths[0]));
        Assert.Equal(Content(1, 10_000), File.ReadAllBytes(paths[1]));
        Assert.False(File.Exists(paths[2]));
    }

    [Fact]
    public async Task A_newer_file_synced_in_place_is_not_replaced_by_an_older_journaled_copy()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Sub("store"), "x.dcm");
        var journal = DicomStoreJournal.Open(dir.Sub("journal"), 1 << 20);
        Store(journal, path, Content(1, 5_000));
        File.WriteAllBytes(path, Content(2, 9_000)); // a larger instance, synced in place by the SCP
        journal.Supersede(path);
        await journal.AbandonAsync();

        await using var reopened = DicomStoreJournal.Open(Path.Combine(dir.Path, "journal"), 1 << 20);

        Assert.Equal(0, reopened.Recovered);
        Assert.Equal(Content(2, 9_000), File.ReadAllBytes(path));
    }

    [Fact]
    public async Task Segments_fill_up_and_are_checkpointed_in_turn_and_checkpointed_records_are_not_replayed()
    {
        using var dir = new TempDir();
        var store = dir.Sub("store");
        var journalDir = dir.Sub("journal");
        // 64 KiB segments and 10 KB instances: 60 of them go through about ten checkpoints.
        var journal = DicomStoreJournal.Open(journalDir, 64 * 1024, idleCheckpoint: TimeSpan.FromMinutes(10));
        var paths = Enumerable.Range(0, 60).Select(i => Path.Combine(store, $"{i}.dcm")).ToList();
        await Parallel.ForEachAsync(Enumerable.Range(0, 60), new ParallelOptions { MaxDegreeOfParallelism = 4 },
            (i, _) => { Store(journal, paths[i], Content(i, 10_000)); return ValueTask.CompletedTask; });
        await journal.CheckpointAsync();
        File.Delete(paths[7]); // gone after its checkpoint: not the journal's to bring back
        await journal.AbandonAsync();

        await using var reopened = DicomStoreJournal.Open(journalDir, 64 * 1024);

        Assert.Equal(0, reopened.Recovered);
        Assert.False(File.Exists(paths[7]));
        Assert.All(paths.Where((_, i) => i != 7), p => Assert.Equal(10_000, new FileInfo(p).Length));
    }

    [Fact]
    public async Task Appends_that_waited_for_a_checkpoint_never_switch_back_to_the_full_segment()
    {
        // Many appends waiting at once for the other segment's checkpoint: each must look again after the wait. One
        // that acted on what it saw before would make the full segment active again and leave the other unsealed with
        // records that no checkpoint takes, and CheckpointAsync would never return.
        for (var round = 0; round < 8; round++)
        {
            using var dir = new TempDir();
            var store = dir.Sub("store");
            await using var journal = DicomStoreJournal.Open(dir.Sub("journal"), 64 * 1024, idleCheckpoint: TimeSpan.FromMinutes(10));
            await Parallel.ForEachAsync(Enumerable.Range(0, 160), new ParallelOptions { MaxDegreeOfParallelism = 8 },
                (i, _) => { Store(journal, Path.Combine(store, $"{i}.dcm"), Content(i, 10_000)); return ValueTask.CompletedTask; });
            await journal.CheckpointAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
    }

    [Fact]
    public void A_journal_directory_that_cannot_be_created_is_a_clear_error()
    {
        using var dir = new TempDir();
        var blocker = Path.Combine(dir.Path, "file");
        File.WriteAllText(blocker, "");
        Assert.ThrowsAny<IOException>(() => DicomStoreJournal.Open(Path.Combine(blocker, "journal")));
    }

    [Fact]
    public async Task An_scp_with_the_journal_replays_at_start_what_a_crash_left_behind()
    {
        using var dir = new TempDir();
        var store = dir.Sub("store");
        var journalDir = dir.Sub("journal");
        var source = DicomFile.Open(Corpus.Pydicom("CT_small.dcm"));
        var path = Path.Combine(store, source.Dataset.GetString(DicomTag.SOPInstanceUID) + ".dcm");
        var bytes = File.ReadAllBytes(Corpus.Pydicom("CT_small.dcm"));
        var crashed = DicomStoreJournal.Open(journalDir);
        Store(crashed, path, bytes);
        await crashed.AbandonAsync();
        File.Delete(path);

        var server = new DicomServer(new DicomServerOptions { AETitle = ScpHost.AETitle, Port = 0, BindAddress = System.Net.IPAddress.Loopback, JournalDirectory = journalDir },
            new DicomFileStoreHandler(store));
        await using (server)
        {
            await server.StartAsync();
            Assert.Equal(1, server.Journal!.Recovered);
        }
        Assert.Equal(bytes, File.ReadAllBytes(path));
    }

    [Fact]
    public async Task The_journal_names_at_start_every_instance_it_still_held_and_none_it_had_checkpointed()
    {
        using var dir = new TempDir();
        var store = dir.Sub("store");
        var journal = DicomStoreJournal.Open(dir.Sub("journal"), 1 << 20, idleCheckpoint: TimeSpan.FromHours(1));
        var checkpointed = Path.Combine(store, "0.dcm");
        Store(journal, checkpointed, Content(0, 1000));
        await journal.CheckpointAsync();
        var held = Enumerable.Range(1, 3).Select(i => Path.Combine(store, $"{i}.dcm")).ToList();
        foreach (var p in held) Store(journal, p, Content(1, 1000));
        await journal.AbandonAsync();

        await using var reopened = DicomStoreJournal.Open(Path.Combine(dir.Path, "journal"), 1 << 20);

        Assert.Equal(held.Order(), reopened.JournaledPaths.Order());
    }

    /// <summary>A store handler that records an instance and then waits until the test lets it answer.</summary>
    private sealed class BlockingHandler(string store) : IDicomStoreHandler
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public bool? Journaled { get; private set; }

        public ValueTask<DicomStoreDecision> BeginStoreAsync(DicomStoreRequest request, CancellationToken cancellationToken) =>
            ValueTask.FromResult(DicomStoreDecision.Accept(Path.Combine(store, request.SopInstanceUid + ".dcm")));

        public async ValueTask<DicomStatus> InstanceStoredAsync(DicomStoredInstance instance, CancellationToken cancellationToken)
        {
            Journaled = instance.Journaled;
            Entered.TrySetResult();
            await Release.Task.WaitAsync(cancellationToken);
            return DicomStatus.Success;
        }
    }

    [Fact]
    public async Task A_journal_record_is_kept_until_the_store_handler_has_answered()
    {
        using var dir = new TempDir();
        var handler = new BlockingHandler(dir.Sub("store"));
        await using var server = new DicomServer(new DicomServerOptions
        {
            AETitle = ScpHost.AETitle, Port = 0, BindAddress = System.Net.IPAddress.Loopback, JournalDirectory = dir.Sub("journal"),
        }, handler);
        await server.StartAsync();
        var client = new DicomClient(new DicomClientOptions { Host = "127.0.0.1", Port = server.Port, CalledAE = ScpHost.AETitle });

        var storing = client.StoreAsync([Corpus.Pydicom("CT_small.dcm")]);
        await handler.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var checkpoint = server.Journal!.CheckpointAsync();
        await Task.Delay(500);

        Assert.False(checkpoint.IsCompleted); // what the handler writes meanwhile is still covered by the record
        Assert.True(handler.Journaled);
        handler.Release.SetResult();
        await checkpoint.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(Assert.Single(await storing).Succeeded);
    }
}
