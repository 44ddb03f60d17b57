using MedfusionDicom.Dimse.Tests;
using MedfusionDicom.Gateway.Storage;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>The durable queue's rules, which both providers keep: run on a real SQLite file and on a real PostgreSQL.</summary>
public abstract class IndexContractTests : IAsyncLifetime
{
    protected readonly TempDir _dir = new();
    protected GatewayIndex _index = null!;

    protected abstract Task<GatewayIndex> OpenIndexAsync();

    public async Task InitializeAsync()
    {
        _index = await OpenIndexAsync();
        await _index.MigrateAsync();
        await _index.MigrateAsync(); // a second start finds the schema current
    }

    public Task DisposeAsync()
    {
        _dir.Dispose();
        return Task.CompletedTask;
    }

    protected static InstanceRecord Instance(string uid, bool derived = false) => new()
    {
        SopInstanceUid = uid, SopClassUid = "1.2.840.10008.5.1.4.1.1.4", StudyInstanceUid = "1.2.3", SeriesInstanceUid = derived ? "1.2.3.9" : "1.2.3.4",
        Path = "/data/" + uid, Size = 1, ReceivedAtMs = 1000, Derived = derived, Route = derived ? "r" : null, Modality = "MR",
    };

    protected async Task<long> QueueJobAsync(string uid = "1.2.3.4.1")
    {
        await _index.UpsertInstanceAsync(Instance(uid));
        await _index.RouteAsync([uid], [(uid, "r")], 1000);
        return (await _index.ListJobsAsync()).Single(j => j.SopInstanceUid == uid).Id;
    }

    [Fact]
    public async Task A_stable_study_is_routed_once_and_an_instance_arriving_later_alone()
    {
        await _index.UpsertInstanceAsync(Instance("1.2.3.4.1"));
        Assert.Empty(await _index.ListRoutableAsync(quietSinceMs: 999)); // still receiving
        var routable = await _index.ListRoutableAsync(quietSinceMs: 1000);
        await _index.RouteAsync(routable.Select(r => r.SopInstanceUid).ToList(), [("1.2.3.4.1", "r")], 1000);
        Assert.Empty(await _index.ListRoutableAsync(quietSinceMs: 5000));

        await _index.UpsertInstanceAsync(Instance("1.2.3.4.2") with { ReceivedAtMs = 2000 });

        Assert.Equal(["1.2.3.4.2"], (await _index.ListRoutableAsync(quietSinceMs: 2000)).Select(r => r.SopInstanceUid));
    }

    [Fact]
    public async Task Two_takers_never_lease_the_same_job()
    {
        foreach (var n in Enumerable.Range(1, 20)) await QueueJobAsync($"1.2.3.4.{n}");

        var leased = await Task.WhenAll(Enumerable.Range(0, 40).Select(k => _index.LeaseJobAsync($"node{k % 2}", 5000, 60_000)));

        var ids = leased.Where(j => j is not null).Select(j => j!.Id).ToList();
        Assert.Equal(20, ids.Count);
        Assert.Equal(20, ids.Distinct().Count());
    }

    [Fact]
    public async Task A_lease_that_runs_out_is_taken_again_and_the_old_owner_can_no_longer_finish()
    {
        var id = await QueueJobAsync();
        var first = await _index.LeaseJobAsync("a", 1000, 1000);
        Assert.Null(await _index.LeaseJobAsync("b", 1500, 1000)); // still a's

        var second = await _index.LeaseJobAsync("b", 2500, 1000);

        Assert.Equal(id, first!.Id);
        Assert.Equal(id, second!.Id);
        Assert.Equal(2, second.Attempts);
        Assert.False(await _index.RenewLeaseAsync(id, "a", 9999));
        Assert.False(await _index.CompleteJobAsync(id, "a", Instance("1.2.3.9.1", derived: true), [], 2600));
        Assert.True(await _index.CompleteJobAsync(id, "b", Instance("1.2.3.9.1", derived: true), ["pacs"], 2600));
    }

    [Fact]
    public async Task Failures_retry_until_MaxAttempts_then_the_job_is_dead_and_an_operator_can_retry_it()
    {
        var id = await QueueJobAsync();
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            var job = await _index.LeaseJobAsync("a", 10_000 * attempt, 1000);
            Assert.Equal(attempt, job!.Attempts);
            Assert.Null(await _index.LeaseJobAsync("a", 10_000 * attempt, 1000)); // nothing else due
            await _index.FailJobAsync(id, "a", $"boom {attempt}", permanent: false, maxAttempts: 3, retryAtMs: 10_000 * attempt + 5000, nowMs: 10_000 * attempt);
            Assert.Null(await _index.LeaseJobAsync("a", 10_000 * attempt + 4999, 1000)); // backing off
        }

        var dead = Assert.Single(await _index.ListJobsAsync(JobState.Dead));
        Assert.Equal("boom 3", dead.LastError);

        Assert.Equal(1, await _index.RetryDeadAsync(100_000));
        var again = await _index.LeaseJobAsync("a", 100_000, 1000);
        Assert.Equal(1, again!.Attempts);
    }

    [Fact]
    public async Task A_permanent_failure_is_failed_at_once_and_cancel_stops_a_queued_job()
    {
        var failing = await QueueJobAsync("1.2.3.4.1");
        var other = await QueueJobAsync("1.2.3.4.2");
        await _index.LeaseJobAsync("a", 5000, 1000);
        await _index.FailJobAsync(failing, "a", "RGB", permanent: true, maxAttempts: 5, retryAtMs: 5000, nowMs: 5000);

        Assert.True(await _index.CancelJobAsync(other, 5000));
        Assert.False(await _index.CancelJobAsync(other, 5000));

        var jobs = await _index.ListJobsAsync(JobState.Failed);
        Assert.Equal(2, jobs.Count);
        Assert.Contains(jobs, j => j.LastError == "cancelled by an operator");
        Assert.Null(await _index.LeaseJobAsync("a", 99_000, 1000));
        Assert.True(await _index.RetryJobAsync(failing, 6000));
        Assert.NotNull(await _index.LeaseJobAsync("a", 6000, 1000));
    }

    [Fact]
    public async Task A_re_run_that_writes_the_same_result_queues_no_second_export()
    {
        var id = await QueueJobAsync();
        await _index.LeaseJobAsync("a", 1000, 1000);
        await _index.CompleteJobAsync(id, "a", Instance("1.2.3.9.1", derived: true), ["pacs"], 1000);
        var exports = await _index.LeaseExportsAsync("pacs", "a", 10, 1000, 1000);
        await _index.CompleteExportsAsync(exports.Select(e => e.Id), 1000);

        Assert.True(await _index.RetryJobAsync(id, 2000));
        await _index.LeaseJobAsync("a", 2000, 1000);
        await _index.CompleteJobAsync(id, "a", Instance("1.2.3.9.1", derived: true), ["pacs"], 2000);

        var export = Assert.Single(await _index.ListExportsAsync());
        Assert.Equal(ExportState.Done, export.State);
        Assert.Single(await _index.ListInstancesAsync("1.2.3.9"));
    }

    [Fact]
    public async Task Concurrent_upserts_are_all_committed_and_a_bad_row_keeps_no_other_out()
    {
        var uids = Enumerable.Range(1, 64).Select(n => $"1.2.3.4.{n}").ToList();

        var upserts = uids.Select(uid => Task.Run(() => _index.UpsertInstanceAsync(uid == "1.2.3.4.7" ? Instance(uid) with { SopClassUid = null! } : Instance(uid)))).ToList();
        var failed = await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => upserts[6]);

        await Task.WhenAll(upserts.Where((_, k) => k != 6));
        Assert.Contains("sop_class_uid", failed.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(uids.Where(u => u != "1.2.3.4.7").Order(), (await _index.ListInstancesAsync()).Select(i => i.SopInstanceUid).Order());
        await _index.UpsertInstanceAsync(Instance("1.2.3.4.7")); // the queue carries on after a failure
        Assert.Equal(64, (await _index.ListInstancesAsync()).Count);
    }

    [Fact]
    public async Task Routers_racing_over_the_same_instances_queue_each_job_once()
    {
        var uids = Enumerable.Range(1, 30).Select(n => $"1.2.3.4.{n}").ToList();
        foreach (var uid in uids) await _index.UpsertInstanceAsync(Instance(uid));

        var claimed = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => _index.RouteAsync(uids, uids.Select(u => (u, "r")).ToList(), 2000)));

        Assert.Equal(uids.Count, claimed.Sum());
        var jobs = await _index.ListJobsAsync();
        Assert.Equal(uids.Order(), jobs.Select(j => j.SopInstanceUid).Order());
        Assert.All(jobs, j => Assert.Equal(JobState.Queued, j.State));
    }

    [Fact]
    public async Task Studies_list_their_received_and_derived_series_with_job_and_export_counts()
    {
        var id = await QueueJobAsync("1.2.3.4.1");
        await QueueJobAsync("1.2.3.4.2");
        await _index.LeaseJobAsync("a", 1000, 1000);
        await _index.CompleteJobAsync(id, "a", Instance("1.2.3.9.1", derived: true), ["pacs"], 1000);

        var study = Assert.Single(await _index.ListStudiesAsync(quietSinceMs: 5000));

        Assert.Equal(("1.2.3", 2, 1, true), (study.StudyInstanceUid, study.Instances, study.DerivedInstances, study.Stable));
        var received = study.Series.Single(x => !x.Derived);
        var derived = study.Series.Single(x => x.Derived);
        Assert.Equal((1, 1, 0), (received.JobsQueued, received.JobsDone, received.JobsFailed));
        Assert.Equal(("r", 1, 1), (derived.Route, derived.Instances, derived.ExportsQueued));
    }
}

/// <summary>The index on SQLite, the embedded default.</summary>
public sealed class SqliteIndexTests : IndexContractTests
{
    protected override Task<GatewayIndex> OpenIndexAsync() => Task.FromResult(GatewayIndex.ForDataDirectory(_dir.Path));

    [Fact]
    public async Task Leases_left_by_a_crash_are_given_back_at_start()
    {
        var id = await QueueJobAsync();
        await _index.LeaseJobAsync("crashed", 1000, 3_600_000);

        Assert.Equal(1, await _index.ReleaseAllLeasesAsync(2000));

        Assert.Equal(id, (await _index.LeaseJobAsync("new", 2000, 1000))!.Id);
    }
}

/// <summary>The index on PostgreSQL, which several nodes share: the same rules, and leases at start belong to whoever holds them.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgreSqlIndexTests(PostgresCluster cluster) : IndexContractTests
{
    protected override async Task<GatewayIndex> OpenIndexAsync() =>
        GatewayIndex.Open(new DatabaseOptions { Provider = DatabaseProvider.PostgreSql, ConnectionString = await cluster.CreateDatabaseAsync() }, _dir.Path);

    [Fact]
    public async Task A_node_starting_leaves_the_leases_of_the_others_until_they_run_out()
    {
        var id = await QueueJobAsync();
        await _index.LeaseJobAsync("node-a", 1000, 10_000);

        Assert.Equal(0, await _index.ReleaseAllLeasesAsync(2000));

        Assert.Null(await _index.LeaseJobAsync("node-b", 2000, 10_000));
        Assert.Equal(id, (await _index.LeaseJobAsync("node-b", 11_001, 10_000))!.Id);
    }

    [Fact]
    public async Task Nodes_migrating_at_once_create_the_schema_once()
    {
        var options = new DatabaseOptions { Provider = DatabaseProvider.PostgreSql, ConnectionString = await cluster.CreateDatabaseAsync() };

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => GatewayIndex.Open(options, _dir.Path).MigrateAsync()));

        await GatewayIndex.Open(options, _dir.Path).UpsertInstanceAsync(Instance("1.2.3.4.1"));
    }
}
