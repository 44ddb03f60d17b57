using Dapper;
using System.Data.Common;

namespace MedfusionDicom.Gateway.Storage;

/// <summary>
/// The index: every stored instance with its QIDO attributes, the state of routing, the durable job queue and the
/// export queues. It holds all state, so a restart continues where the last process stopped. SQLite in WAL mode; each
/// operation is one short transaction on its own pooled connection, so ingest, jobs and exports never wait on each
/// other for long. Times are Unix milliseconds.
/// </summary>
public sealed class GatewayIndex(IndexDatabase database)
{
    public IndexDatabase Database { get; } = database;

    /// <summary>The index the settings name: SQLite (DataDirectory/index.db unless a connection string is given) or PostgreSQL.</summary>
    public static GatewayIndex Open(DatabaseOptions options, string dataDirectory, bool journaled = false) => new(IndexDatabase.Create(options, dataDirectory, journaled));

    /// <summary>The embedded default: SQLite at DataDirectory/index.db.</summary>
    public static GatewayIndex ForDataDirectory(string dataDirectory) => Open(new DatabaseOptions(), dataDirectory);

    private Task<DbConnection> OpenAsync(CancellationToken ct) => Database.OpenAsync(ct);

    /// <summary>Creates or upgrades the schema (versioned migrations, applied in order, each in its own transaction).</summary>
    public async Task MigrateAsync(CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        await using var schemaLock = await Database.LockSchemaAsync(connection, ct).ConfigureAwait(false);
        await connection.ExecuteAsync("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)").ConfigureAwait(false);
        var version = await connection.ExecuteScalarAsync<long?>("SELECT MAX(version) FROM schema_version").ConfigureAwait(false) ?? 0;
        var migrations = Database.Migrations;
        for (var v = (int)version; v < migrations.Count; v++)
        {
            await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
            await connection.ExecuteAsync(migrations[v], transaction: tx).ConfigureAwait(false);
            await connection.ExecuteAsync("INSERT INTO schema_version (version) VALUES (@v)", new { v = v + 1 }, tx).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Adds or replaces an instance (the same SOP Instance UID replaces its row: one row per instance), records when
    /// its study last received something, and, for a received instance, marks it for routing. Concurrent calls are
    /// committed together, one transaction and one sync for all of them (<see cref="InstanceCommitQueue"/>); each
    /// returns once its row is committed.
    /// </summary>
    public Task UpsertInstanceAsync(InstanceRecord instance, CancellationToken ct = default)
    {
        var queue = Volatile.Read(ref _commits);
        if (queue is null)
        {
            var created = new InstanceCommitQueue(Database, UpsertInstanceSql);
            queue = Interlocked.CompareExchange(ref _commits, created, null) ?? created;
        }

        return queue.CommitAsync(instance, ct);
    }

    private InstanceCommitQueue? _commits;

    private const string InsertInstance = """
        INSERT INTO instances (sop_instance_uid, sop_class_uid, study_uid, series_uid, patient_id, patient_name, study_date,
            study_description, accession_number, modality, series_description, series_number, instance_number, path, size,
            transfer_syntax, calling_ae, called_ae, received_at, derived, route, routed, study_time, study_id, referring_physician,
            patient_birth_date, patient_sex)
        VALUES (@SopInstanceUid, @SopClassUid, @StudyInstanceUid, @SeriesInstanceUid, @PatientId, @PatientName, @StudyDate,
            @StudyDescription, @AccessionNumber, @Modality, @SeriesDescription, @SeriesNumber, @InstanceNumber, @Path, @Size,
            @TransferSyntaxUid, @CallingAeTitle, @CalledAeTitle, @ReceivedAtMs, CASE WHEN @Derived THEN 1 ELSE 0 END, @Route, CASE WHEN @Derived THEN 1 ELSE 0 END,
            @StudyTime, @StudyId, @ReferringPhysicianName, @PatientBirthDate, @PatientSex)
        """;

    private const string TouchStudy = """
        INSERT INTO studies (study_uid, last_received_at) VALUES (@StudyInstanceUid, @ReceivedAtMs)
        ON CONFLICT (study_uid) DO UPDATE SET last_received_at = CASE WHEN excluded.last_received_at > studies.last_received_at
            THEN excluded.last_received_at ELSE studies.last_received_at END;
        """;

    internal const string UpsertInstanceSql = InsertInstance + """

        ON CONFLICT (sop_instance_uid) DO UPDATE SET sop_class_uid = excluded.sop_class_uid, study_uid = excluded.study_uid,
            series_uid = excluded.series_uid, patient_id = excluded.patient_id, patient_name = excluded.patient_name,
            study_date = excluded.study_date, study_description = excluded.study_description,
            accession_number = excluded.accession_number, modality = excluded.modality,
            series_description = excluded.series_description, series_number = excluded.series_number,
            instance_number = excluded.instance_number, path = excluded.path, size = excluded.size,
            transfer_syntax = excluded.transfer_syntax, calling_ae = excluded.calling_ae, called_ae = excluded.called_ae,
            received_at = excluded.received_at, derived = excluded.derived, route = excluded.route, study_time = excluded.study_time,
            study_id = excluded.study_id, referring_physician = excluded.referring_physician, patient_birth_date = excluded.patient_birth_date,
            patient_sex = excluded.patient_sex,
            routed = CASE WHEN excluded.derived = 1 THEN 1 ELSE instances.routed END;

        """ + TouchStudy;

    /// <summary>
    /// Indexes an instance unless it is indexed already (then its row, perhaps of a newer copy, is left alone): for
    /// instances the store journal still held at start, whose rows a power loss may have taken.
    /// </summary>
    public async Task<bool> IndexIfMissingAsync(InstanceRecord instance, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        var added = await connection.ExecuteAsync(InsertInstance + "\nON CONFLICT (sop_instance_uid) DO NOTHING", instance, tx).ConfigureAwait(false) == 1;
        if (added) await connection.ExecuteAsync(TouchStudy, instance, tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return added;
    }


    private static Task UpsertInstanceAsync(DbConnection connection, DbTransaction tx, InstanceRecord i) => connection.ExecuteAsync(UpsertInstanceSql, i, tx);

    public async Task<InstanceRecord?> GetInstanceAsync(string sopInstanceUid, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        return await connection.QuerySingleOrDefaultAsync<InstanceRecord>(IndexSchema.SelectInstance + " WHERE sop_instance_uid = @sopInstanceUid", new { sopInstanceUid }).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<InstanceRecord>> ListInstancesAsync(string? seriesInstanceUid = null, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        var sql = IndexSchema.SelectInstance + (seriesInstanceUid is null ? "" : " WHERE series_uid = @seriesInstanceUid") + " ORDER BY series_uid, instance_number, sop_instance_uid";
        return (await connection.QueryAsync<InstanceRecord>(sql, new { seriesInstanceUid }).ConfigureAwait(false)).ToList();
    }

    /// <summary>The instances of a study (of one of its series, when given), in series and instance order.</summary>
    public async Task<IReadOnlyList<InstanceRecord>> ListStudyInstancesAsync(string studyInstanceUid, string? seriesInstanceUid, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        return (await connection.QueryAsync<InstanceRecord>(StudyInstancesSql(seriesInstanceUid), new { studyInstanceUid, seriesInstanceUid }).ConfigureAwait(false)).ToList();
    }

    /// <summary>The first instance of a study or series in the order of <see cref="ListStudyInstancesAsync"/>, or null: one row, however large the study.</summary>
    public async Task<InstanceRecord?> FirstStudyInstanceAsync(string studyInstanceUid, string? seriesInstanceUid, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        return await connection.QueryFirstOrDefaultAsync<InstanceRecord>(StudyInstancesSql(seriesInstanceUid) + " LIMIT 1", new { studyInstanceUid, seriesInstanceUid }).ConfigureAwait(false);
    }

    private static string StudyInstancesSql(string? seriesInstanceUid) =>
        IndexSchema.SelectInstance + " WHERE study_uid = @studyInstanceUid" + (seriesInstanceUid is null ? "" : " AND series_uid = @seriesInstanceUid")
        + " ORDER BY series_uid, instance_number, sop_instance_uid";

    /// <summary>Received instances not routed yet whose study has been quiet since <paramref name="quietSinceMs"/>.</summary>
    public async Task<IReadOnlyList<UnroutedInstance>> ListRoutableAsync(long quietSinceMs, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        return (await connection.QueryAsync<UnroutedInstance>("""
            SELECT i.sop_instance_uid AS SopInstanceUid, i.study_uid AS StudyInstanceUid, i.series_uid AS SeriesInstanceUid, i.path AS Path,
                   i.calling_ae AS CallingAeTitle, i.called_ae AS CalledAeTitle
            FROM instances i JOIN studies s ON s.study_uid = i.study_uid
            WHERE i.routed = 0 AND i.derived = 0 AND s.last_received_at <= @quietSinceMs
            ORDER BY i.study_uid, i.series_uid, i.instance_number, i.sop_instance_uid
            """, new { quietSinceMs }).ConfigureAwait(false)).ToList();
    }

    /// <summary>When the study that has waited longest for routing last received something; null when none waits.</summary>
    public async Task<long?> OldestUnroutedReceiptAsync(CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<long?>("""
            SELECT MIN(s.last_received_at) FROM studies s
            WHERE EXISTS (SELECT 1 FROM instances i WHERE i.study_uid = s.study_uid AND i.routed = 0 AND i.derived = 0)
            """).ConfigureAwait(false);
    }

    /// <summary>
    /// Claims the instances for routing and queues their jobs, in one transaction (a job per instance and route, never
    /// twice). An instance that another node routed meanwhile is passed over; returns how many this call claimed.
    /// </summary>
    public async Task<int> RouteAsync(IReadOnlyCollection<string> sopInstanceUids, IReadOnlyCollection<(string SopInstanceUid, string Route)> jobs, long nowMs, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        var claimed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var uid in sopInstanceUids)
        {
            // Under PostgreSQL a second node's UPDATE of the same row waits for this commit and then finds routed = 1.
            if (await connection.ExecuteAsync("UPDATE instances SET routed = 1 WHERE sop_instance_uid = @uid AND routed = 0", new { uid }, tx).ConfigureAwait(false) == 1)
                claimed.Add(uid);
        }

        await connection.ExecuteAsync("""
            INSERT INTO jobs (sop_instance_uid, route, state, attempts, not_before, created_at, updated_at)
            VALUES (@SopInstanceUid, @Route, 'queued', 0, @nowMs, @nowMs, @nowMs)
            ON CONFLICT (sop_instance_uid, route) DO UPDATE SET state = 'queued', attempts = 0, not_before = @nowMs, updated_at = @nowMs,
                lease_owner = NULL, lease_expires = NULL, last_error = NULL
            """, jobs.Where(j => claimed.Contains(j.SopInstanceUid)).Select(j => new { j.SopInstanceUid, j.Route, nowMs }), tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return claimed.Count;
    }

    /// <summary>Takes the oldest job that is due (queued, or leased with its lease run out) for <paramref name="owner"/>; null when none is.</summary>
    public async Task<JobRecord?> LeaseJobAsync(string owner, long nowMs, long leaseMs, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        // One statement: SQLite runs it under its write lock, and PostgreSQL's SKIP LOCKED lets concurrent takers on
        // other nodes pass over the row, so two takers can never lease the same job.
        return await connection.QuerySingleOrDefaultAsync<JobRecord>("""
            UPDATE jobs SET state = 'leased', lease_owner = @owner, lease_expires = @expires, attempts = attempts + 1, updated_at = @nowMs
            WHERE id = (SELECT id FROM jobs WHERE (state = 'queued' AND not_before <= @nowMs) OR (state = 'leased' AND lease_expires < @nowMs)
                        ORDER BY not_before, id LIMIT 1
            """ + Database.SkipLockedRows + ") RETURNING " + IndexSchema.JobColumns, new { owner, nowMs, expires = nowMs + leaseMs }).ConfigureAwait(false);
    }

    /// <summary>Extends a lease; false when the job is no longer this owner's (it expired and another took it).</summary>
    public async Task<bool> RenewLeaseAsync(long jobId, string owner, long expiresMs, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        return await connection.ExecuteAsync("UPDATE jobs SET lease_expires = @expiresMs WHERE id = @jobId AND state = 'leased' AND lease_owner = @owner",
            new { jobId, owner, expiresMs }).ConfigureAwait(false) == 1;
    }

    /// <summary>
    /// Ends a job with its result: the derived instance is indexed, an export is queued for each destination (once:
    /// a re-run rewrites the same instance and does not queue a second send of what was sent), and the job is done.
    /// </summary>
    public async Task<bool> CompleteJobAsync(long jobId, string owner, InstanceRecord result, IReadOnlyCollection<string> destinations, long nowMs, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        var mine = await connection.ExecuteAsync("""
            UPDATE jobs SET state = 'done', result_uid = @uid, lease_owner = NULL, lease_expires = NULL, last_error = NULL, updated_at = @nowMs
            WHERE id = @jobId AND state = 'leased' AND lease_owner = @owner
            """, new { jobId, owner, uid = result.SopInstanceUid, nowMs }, tx).ConfigureAwait(false);
        if (mine == 0) return false;
        await UpsertInstanceAsync(connection, tx, result).ConfigureAwait(false);
        await QueueExportsAsync(connection, tx, result.SopInstanceUid, destinations, nowMs).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Indexes an instance the gateway made without a job (a synthetic cohort's) and queues it for each destination,
    /// in one transaction: a cohort indexed again after a restart does not queue a second send.
    /// </summary>
    public async Task AddMadeInstanceAsync(InstanceRecord instance, IReadOnlyCollection<string> destinations, long nowMs, CancellationToken ct = default)
    {
        if (!instance.Derived) throw new ArgumentException("a made instance is derived: it is never routed", nameof(instance));
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await UpsertInstanceAsync(connection, tx, instance).ConfigureAwait(false);
        await QueueExportsAsync(connection, tx, instance.SopInstanceUid, destinations, nowMs).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    private static Task QueueExportsAsync(DbConnection connection, DbTransaction tx, string sopInstanceUid, IReadOnlyCollection<string> destinations, long nowMs) =>
        connection.ExecuteAsync("""
            INSERT INTO exports (sop_instance_uid, destination, state, attempts, not_before, created_at, updated_at)
            VALUES (@uid, @destination, 'queued', 0, @nowMs, @nowMs, @nowMs)
            ON CONFLICT (sop_instance_uid, destination) DO NOTHING
            """, destinations.Select(destination => new { uid = sopInstanceUid, destination, nowMs }), tx);

    /// <summary>Ends an attempt that failed: queued again at <paramref name="retryAtMs"/>, or dead when it was the last, or failed for good (bad input) when <paramref name="permanent"/>.</summary>
    public async Task FailJobAsync(long jobId, string owner, string error, bool permanent, int maxAttempts, long retryAtMs, long nowMs, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync("""
            UPDATE jobs SET state = CASE WHEN @permanent THEN 'failed' WHEN attempts >= @maxAttempts THEN 'dead' ELSE 'queued' END,
                not_before = @retryAtMs, last_error = @error, lease_owner = NULL, lease_expires = NULL, updated_at = @nowMs
            WHERE id = @jobId AND state = 'leased' AND lease_owner = @owner
            """, new { jobId, owner, error, permanent, maxAttempts, retryAtMs, nowMs }).ConfigureAwait(false);
    }

    /// <summary>
    /// Gives back every lease at start: with SQLite this process is the only node, so a lease still held is one a crash
    /// left behind. A shared database is left alone (a lease there may be another node's live one; a dead node's run out).
    /// </summary>
    public async Task<int> ReleaseAllLeasesAsync(long nowMs, CancellationToken ct = default)
    {
        if (Database.SharedByNodes) return 0;
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        return await connection.ExecuteAsync("""
            UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires = NULL, not_before = @nowMs WHERE state = 'leased';
            UPDATE exports SET state = 'queued', lease_owner = NULL, lease_expires = NULL, not_before = @nowMs WHERE state = 'leased';
            """, new { nowMs }).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<JobRecord>> ListJobsAsync(JobState? state = null, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        return (await connection.QueryAsync<JobRecord>("SELECT " + IndexSchema.JobColumns + " FROM jobs" + (state is null ? "" : " WHERE state = @s") + " ORDER BY id",
            new { s = state?.ToString().ToLowerInvariant() }).ConfigureAwait(false)).ToList();
    }

    /// <summary>Queues a failed, dead or done job again with fresh attempts; false when there is no such job or it is queued or running.</summary>
    public async Task<bool> RetryJobAsync(long jobId, long nowMs, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        return await connection.ExecuteAsync("""
            UPDATE jobs SET state = 'queued', attempts = 0, not_before = @nowMs, last_error = NULL, updated_at = @nowMs
            WHERE id = @jobId AND state IN ('failed', 'dead', 'done')
            """, new { jobId, nowMs }).ConfigureAwait(false) == 1;
    }

    /// <summary>Queues every dead job and every dead export again; returns how many.</summary>
    public async Task<int> RetryDeadAsync(long nowMs, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        return await connection.ExecuteAsync("""
            UPDATE jobs SET state = 'queued', attempts = 0, not_before = @nowMs, last_error = NULL, updated_at = @nowMs WHERE state = 'dead';
            UPDATE exports SET state = 'queued', attempts = 0, not_before = @nowMs, last_error = NULL, updated_at = @nowMs WHERE state = 'dead';
            """, new { nowMs }).ConfigureAwait(false);
    }

    /// <summary>Stops a job that has not finished: it is marked failed ("cancelled by an operator").</summary>
    public async Task<bool> CancelJobAsync(long jobId, long nowMs, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        return await connection.ExecuteAsync("""
            UPDATE jobs SET state = 'failed', last_error = 'cancelled by an operator', lease_owner = NULL, lease_expires = NULL, updated_at = @nowMs
            WHERE id = @jobId AND state IN ('queued', 'leased', 'dead')
            """, new { jobId, nowMs }).ConfigureAwait(false) == 1;
    }

    /// <summary>Takes up to <paramref name="limit"/> due exports of one destination, oldest first.</summary>
    public async Task<IReadOnlyList<ExportRecord>> LeaseExportsAsync(string destination, string owner, int limit, long nowMs, long leaseMs, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        return (await connection.QueryAsync<ExportRecord>("""
            UPDATE exports SET state = 'leased', lease_owner = @owner, lease_expires = @expires, attempts = attempts + 1, updated_at = @nowMs
            WHERE id IN (SELECT id FROM exports WHERE destination = @destination
                         AND ((state = 'queued' AND not_before <= @nowMs) OR (state = 'leased' AND lease_expires < @nowMs))
                         ORDER BY not_before, id LIMIT @limit
            """ + Database.SkipLockedRows + """
            ) RETURNING id AS Id, sop_instance_uid AS SopInstanceUid, destination AS Destination, state AS State, attempts AS Attempts,
                not_before AS NotBeforeMs, last_error AS LastError, (SELECT path FROM instances WHERE sop_instance_uid = exports.sop_instance_uid) AS Path
            """, new { destination, owner, limit, nowMs, expires = nowMs + leaseMs }).ConfigureAwait(false)).ToList();
    }

    public async Task CompleteExportsAsync(IEnumerable<long> ids, long nowMs, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync("UPDATE exports SET state = 'done', lease_owner = NULL, lease_expires = NULL, last_error = NULL, updated_at = @nowMs WHERE id = @id",
            ids.Select(id => new { id, nowMs }), tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    public async Task FailExportsAsync(IEnumerable<long> ids, string error, int maxAttempts, long retryAtMs, long nowMs, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync("""
            UPDATE exports SET state = CASE WHEN attempts >= @maxAttempts THEN 'dead' ELSE 'queued' END, not_before = @retryAtMs,
                last_error = @error, lease_owner = NULL, lease_expires = NULL, updated_at = @nowMs
            WHERE id = @id
            """, ids.Select(id => new { id, error, maxAttempts, retryAtMs, nowMs }), tx).ConfigureAwait(false);
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<ExportRecord>> ListExportsAsync(string? destination = null, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        return (await connection.QueryAsync<ExportRecord>("""
            SELECT e.id AS Id, e.sop_instance_uid AS SopInstanceUid, e.destination AS Destination, e.state AS State, e.attempts AS Attempts,
                e.not_before AS NotBeforeMs, e.last_error AS LastError, i.path AS Path
            FROM exports e JOIN instances i ON i.sop_instance_uid = e.sop_instance_uid
            """ + (destination is null ? "" : " WHERE e.destination = @destination") + " ORDER BY e.id", new { destination }).ConfigureAwait(false)).ToList();
    }

    /// <summary>Every study with its series (received and derived) and the state of their jobs and exports.</summary>
    public async Task<IReadOnlyList<StudySummary>> ListStudiesAsync(long quietSinceMs, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct).ConfigureAwait(false);
        var series = (await connection.QueryAsync<(string Study, string Series, string Modality, string Description, long Instances, long Derived, string? Route,
            long JobsQueued, long JobsDone, long JobsFailed, long ExportsQueued, long ExportsDone, long ExportsDead)>("""
            SELECT i.study_uid, i.series_uid, MAX(i.modality), MAX(i.series_description), COUNT(*), MAX(i.derived), MAX(i.route),
                (SELECT COUNT(*) FROM jobs j JOIN instances s ON s.sop_instance_uid = j.sop_instance_uid WHERE s.series_uid = i.series_uid AND j.state IN ('queued', 'leased')),
                (SELECT COUNT(*) FROM jobs j JOIN instances s ON s.sop_instance_uid = j.sop_instance_uid WHERE s.series_uid = i.series_uid AND j.state = 'done'),
                (SELECT COUNT(*) FROM jobs j JOIN instances s ON s.sop_instance_uid = j.sop_instance_uid WHERE s.series_uid = i.series_uid AND j.state IN ('failed', 'dead')),
                (SELECT COUNT(*) FROM exports e JOIN instances s ON s.sop_instance_uid = e.sop_instance_uid WHERE s.series_uid = i.series_uid AND e.state IN ('queued', 'leased')),
                (SELECT COUNT(*) FROM exports e JOIN instances s ON s.sop_instance_uid = e.sop_instance_uid WHERE s.series_uid = i.series_uid AND e.state = 'done'),
                (SELECT COUNT(*) FROM exports e JOIN instances s ON s.sop_instance_uid = e.sop_instance_uid WHERE s.series_uid = i.series_uid AND e.state = 'dead')
            FROM instances i GROUP BY i.study_uid, i.series_uid ORDER BY i.study_uid, MAX(i.derived), i.series_uid
            """).ConfigureAwait(false)).ToList();
        var studies = (await connection.QueryAsync<(string Study, string PatientId, string PatientName, string StudyDate, long LastReceived)>("""
            SELECT s.study_uid, MAX(i.patient_id), MAX(i.patient_name), MAX(i.study_date), s.last_received_at
            FROM studies s JOIN instances i ON i.study_uid = s.study_uid GROUP BY s.study_uid ORDER BY s.last_received_at
            """).ConfigureAwait(false)).ToList();
        return studies.Select(s =>
        {
            var own = series.Where(x => x.Study == s.Study).Select(x => new SeriesSummary(x.Series, x.Modality, x.Description, (int)x.Instances, x.Derived == 1, x.Route,
                (int)x.JobsQueued, (int)x.JobsDone, (int)x.JobsFailed, (int)x.ExportsQueued, (int)x.ExportsDone, (int)x.ExportsDead)).ToList();
            return new StudySummary(s.Study, s.PatientId, s.PatientName, s.StudyDate, own.Where(x => !x.Derived).Sum(x => x.Instances),
                own.Where(x => x.Derived).Sum(x => x.Instances), s.LastReceived, s.LastReceived <= quietSinceMs, own);
        }).ToList();
    }
}
