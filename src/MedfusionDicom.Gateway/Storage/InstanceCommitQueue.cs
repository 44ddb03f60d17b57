using System.Data;
using System.Data.Common;

namespace MedfusionDicom.Gateway.Storage;

/// <summary>
/// Commits received instances' index rows, grouped: whoever arrives while no commit is under way commits every row
/// waiting at that moment in one transaction, so concurrent associations share one sync, and a lone association pays
/// for one short transaction on a kept connection with a prepared statement (no connection set-up, no SQL parsing).
/// Each caller returns once its own row is committed, or with the error that kept it out.
/// </summary>
internal sealed class InstanceCommitQueue(IndexDatabase database, string upsertSql)
{
    private static readonly (string Name, DbType Type, Func<InstanceRecord, object?> Value)[] Parameters =
    [
        ("SopInstanceUid", DbType.String, i => i.SopInstanceUid),
        ("SopClassUid", DbType.String, i => i.SopClassUid),
        ("StudyInstanceUid", DbType.String, i => i.StudyInstanceUid),
        ("SeriesInstanceUid", DbType.String, i => i.SeriesInstanceUid),
        ("PatientId", DbType.String, i => i.PatientId),
        ("PatientName", DbType.String, i => i.PatientName),
        ("StudyDate", DbType.String, i => i.StudyDate),
        ("StudyDescription", DbType.String, i => i.StudyDescription),
        ("AccessionNumber", DbType.String, i => i.AccessionNumber),
        ("Modality", DbType.String, i => i.Modality),
        ("SeriesDescription", DbType.String, i => i.SeriesDescription),
        ("SeriesNumber", DbType.Int32, i => i.SeriesNumber),
        ("InstanceNumber", DbType.Int32, i => i.InstanceNumber),
        ("Path", DbType.String, i => i.Path),
        ("Size", DbType.Int64, i => i.Size),
        ("TransferSyntaxUid", DbType.String, i => i.TransferSyntaxUid),
        ("CallingAeTitle", DbType.String, i => i.CallingAeTitle),
        ("CalledAeTitle", DbType.String, i => i.CalledAeTitle),
        ("ReceivedAtMs", DbType.Int64, i => i.ReceivedAtMs),
        ("Derived", DbType.Boolean, i => i.Derived),
        ("Route", DbType.String, i => i.Route),
        ("StudyTime", DbType.String, i => i.StudyTime),
        ("StudyId", DbType.String, i => i.StudyId),
        ("ReferringPhysicianName", DbType.String, i => i.ReferringPhysicianName),
        ("PatientBirthDate", DbType.String, i => i.PatientBirthDate),
        ("PatientSex", DbType.String, i => i.PatientSex),
    ];

    private readonly Lock _gate = new();
    private List<Pending> _waiting = [];
    private bool _committing;

    // Used only by the one caller committing at a time.
    private DbConnection? _connection;
    private DbCommand? _upsert;

    private sealed class Pending(InstanceRecord record)
    {
        public InstanceRecord Record { get; } = record;
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public async Task CommitAsync(InstanceRecord record, CancellationToken ct)
    {
        var mine = new Pending(record);
        List<Pending>? batch = null;
        lock (_gate)
        {
            _waiting.Add(mine);
            if (!_committing)
            {
                _committing = true;
                (batch, _waiting) = (_waiting, []);
            }
        }

        if (batch is not null) await CommitThenHandOverAsync(batch).ConfigureAwait(false);
        await mine.Done.Task.WaitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Commits a batch; rows that arrived meanwhile are committed next, on another thread, so this caller is not kept waiting for them.</summary>
    private async Task CommitThenHandOverAsync(List<Pending> batch)
    {
        await CommitBatchAsync(batch).ConfigureAwait(false);
        lock (_gate)
        {
            if (_waiting.Count == 0)
            {
                _committing = false;
                return;
            }

            (batch, _waiting) = (_waiting, []);
        }

        _ = Task.Run(() => CommitThenHandOverAsync(batch));
    }

    private async Task CommitBatchAsync(List<Pending> batch)
    {
        try
        {
            await CommitRowsAsync(batch).ConfigureAwait(false);
            foreach (var p in batch) p.Done.TrySetResult();
        }
        catch (Exception) when (batch.Count > 1)
        {
            // One bad row must not keep the others out: each goes again on its own.
            foreach (var p in batch) await CommitBatchAsync([p]).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            batch[0].Done.TrySetException(e);
        }
    }

    private async Task CommitRowsAsync(List<Pending> batch)
    {
        try
        {
            var upsert = await PreparedAsync().ConfigureAwait(false);
            await using var tx = await _connection!.BeginTransactionAsync().ConfigureAwait(false);
            upsert.Transaction = tx;
            foreach (var p in batch)
            {
                for (var k = 0; k < Parameters.Length; k++) upsert.Parameters[k].Value = Parameters[k].Value(p.Record) ?? DBNull.Value;
                await upsert.ExecuteNonQueryAsync().ConfigureAwait(false);
            }

            await tx.CommitAsync().ConfigureAwait(false);
        }
        catch
        {
            // The connection may be broken (a restarted database server): the next batch opens a new one.
            await DropConnectionAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<DbCommand> PreparedAsync()
    {
        if (_upsert is not null) return _upsert;
        _connection = await database.OpenAsync(CancellationToken.None).ConfigureAwait(false);
        var command = _connection.CreateCommand();
        command.CommandText = upsertSql;
        foreach (var (name, type, _) in Parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@" + name;
            parameter.DbType = type;
            command.Parameters.Add(parameter);
        }

        _upsert = command;
        return command;
    }

    private async Task DropConnectionAsync()
    {
        if (_upsert is not null) await _upsert.DisposeAsync().ConfigureAwait(false);
        if (_connection is not null) await _connection.DisposeAsync().ConfigureAwait(false);
        (_upsert, _connection) = (null, null);
    }
}
