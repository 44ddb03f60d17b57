using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace MedfusionDicom.Gateway.Storage;

/// <summary>
/// The database under the index: how to open a connection, the schema's migrations and the few places where SQLite
/// and PostgreSQL differ. Everything else in <see cref="GatewayIndex"/> is one SQL text that both run.
/// </summary>
public abstract class IndexDatabase
{
    /// <summary>What the start-up log shows: the provider and where the data are, never a password.</summary>
    public abstract string Description { get; }

    /// <summary>Several gateway nodes may use it at once: a lease still held at start may be another node's.</summary>
    public abstract bool SharedByNodes { get; }

    internal abstract IReadOnlyList<string> Migrations { get; }

    /// <summary>Appended to the row choice of a lease, so that concurrent takers on other nodes pass over each other's rows.</summary>
    internal abstract string SkipLockedRows { get; }

    /// <summary>The distinct values of a text column of a group, joined by backslashes (a multi-valued DICOM string).</summary>
    internal abstract string DistinctJoin(string column);

    /// <summary>A case-sensitive DICOM wildcard match (* any run, ? one character) of a column against a parameter.</summary>
    internal abstract string WildcardMatch(string column, string parameter);

    /// <summary>The parameter value for <see cref="WildcardMatch"/> of a DICOM pattern.</summary>
    internal abstract string WildcardPattern(string dicomPattern);

    public abstract Task<DbConnection> OpenAsync(CancellationToken ct);

    /// <summary>Held while migrations run, so that nodes starting together upgrade the schema once.</summary>
    internal abstract Task<IAsyncDisposable> LockSchemaAsync(DbConnection connection, CancellationToken ct);

    /// <summary>Makes every commit so far durable, where commits do not sync on their own.</summary>
    public virtual Task MakeCommitsDurableAsync(CancellationToken ct) => Task.CompletedTask;

    /// <param name="journaled">
    /// The DIMSE store journal covers the data directory: an SQLite index in it (the default place) then commits without
    /// a sync of its own, since the journal's checkpoint (syncfs) makes those commits durable too, and the gateway
    /// re-indexes what the journal still held at start.
    /// </param>
    public static IndexDatabase Create(DatabaseOptions options, string dataDirectory, bool journaled = false) => options.Provider switch
    {
        DatabaseProvider.Sqlite => options.ConnectionString.Length > 0 ? new SqliteIndexDatabase(options.ConnectionString)
            : new SqliteIndexDatabase($"Data Source={Path.Combine(dataDirectory, "index.db")}", syncEachCommit: !journaled),
        DatabaseProvider.PostgreSql => new PostgreSqlIndexDatabase(options.ConnectionString),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Provider, "unknown database provider"),
    };

    private protected sealed class NoLock : IAsyncDisposable
    {
        public static readonly NoLock Instance = new();
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>SQLite in WAL mode, one file, one node: the embedded default.</summary>
public sealed class SqliteIndexDatabase : IndexDatabase
{
    private readonly string _connectionString;
    private readonly string _file;

    private readonly bool _syncEachCommit;

    /// <param name="connectionString">A Microsoft.Data.Sqlite connection string (Data Source=FILE).</param>
    /// <param name="syncEachCommit">synchronous=FULL; false: NORMAL, for an index whose durability the store journal's checkpoint provides.</param>
    public SqliteIndexDatabase(string connectionString, bool syncEachCommit = true)
    {
        _syncEachCommit = syncEachCommit;
        var builder = new SqliteConnectionStringBuilder(connectionString) { Pooling = true, DefaultTimeout = 30 };
        _connectionString = builder.ToString();
        _file = builder.DataSource;
        if (_file is { Length: > 0 } && _file != ":memory:")
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_file))!);
    }

    public override string Description => $"SQLite {_file}";
    public override bool SharedByNodes => false;
    internal override IReadOnlyList<string> Migrations => IndexSchema.Sqlite;
    internal override string SkipLockedRows => ""; // SQLite has one writer at a time: a lease's UPDATE already runs alone
    internal override string DistinctJoin(string column) => $"REPLACE(GROUP_CONCAT(DISTINCT {column}), ',', '\\')";
    // GLOB is case-sensitive and takes * and ? as DICOM does; [ is its only other special character.
    internal override string WildcardMatch(string column, string parameter) => $"{column} GLOB {parameter}";
    internal override string WildcardPattern(string dicomPattern) => dicomPattern.Replace("[", "[[]", StringComparison.Ordinal);

    public override async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(ct).ConfigureAwait(false);
        // busy_timeout: a writer waits for another instead of failing at once; synchronous=FULL: a commit is on disk
        // before it returns, since an acknowledged C-STORE depends on it (NORMAL where the store journal covers that).
        await connection.ExecuteAsync($"PRAGMA busy_timeout = 30000; PRAGMA synchronous = {(_syncEachCommit ? "FULL" : "NORMAL")}; PRAGMA foreign_keys = ON;").ConfigureAwait(false);
        return connection;
    }

    /// <summary>With synchronous=NORMAL, an fsync of the write-ahead log: the commits in it are then durable.</summary>
    public override async Task MakeCommitsDurableAsync(CancellationToken ct)
    {
        if (_syncEachCommit || _file is not { Length: > 0 } || _file == ":memory:") return;
        var wal = _file + "-wal";
        if (!File.Exists(wal)) return;
        // fsync works on the file, not on the descriptor: a descriptor of our own syncs what SQLite wrote through its own.
        await using var log = new FileStream(wal, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        await Task.Run(() => log.Flush(flushToDisk: true), ct).ConfigureAwait(false);
    }

    internal override async Task<IAsyncDisposable> LockSchemaAsync(DbConnection connection, CancellationToken ct)
    {
        await connection.ExecuteAsync("PRAGMA journal_mode = WAL;").ConfigureAwait(false);
        return NoLock.Instance;
    }
}

/// <summary>PostgreSQL: the coordination point of several gateway nodes that share it and one data directory.</summary>
public sealed class PostgreSqlIndexDatabase : IndexDatabase
{
    // An arbitrary constant: the advisory lock that serialises schema upgrades of every node on this database.
    private const long SchemaLockKey = 0x4D65_6466_7573_6E31;
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _description;

    /// <param name="connectionString">An Npgsql connection string (Host=...;Port=...;Database=...;Username=...).</param>
    public PostgreSqlIndexDatabase(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        _description = $"PostgreSQL {builder.Username}@{builder.Host}:{builder.Port}/{builder.Database}";
        _dataSource = NpgsqlDataSource.Create(builder);
    }

    public override string Description => _description;
    public override bool SharedByNodes => true;
    internal override IReadOnlyList<string> Migrations => IndexSchema.PostgreSql;
    internal override string SkipLockedRows => " FOR UPDATE SKIP LOCKED";
    internal override string DistinctJoin(string column) => $"STRING_AGG(DISTINCT {column}, '\\')";
    internal override string WildcardMatch(string column, string parameter) => $"{column} LIKE {parameter} ESCAPE '!'";
    internal override string WildcardPattern(string dicomPattern) =>
        dicomPattern.Replace("!", "!!", StringComparison.Ordinal).Replace("%", "!%", StringComparison.Ordinal).Replace("_", "!_", StringComparison.Ordinal)
            .Replace('*', '%').Replace('?', '_');

    public override async Task<DbConnection> OpenAsync(CancellationToken ct) => await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);

    internal override async Task<IAsyncDisposable> LockSchemaAsync(DbConnection connection, CancellationToken ct)
    {
        await connection.ExecuteAsync("SELECT pg_advisory_lock(@SchemaLockKey)", new { SchemaLockKey }).ConfigureAwait(false);
        return new AdvisoryLock(connection);
    }

    private sealed class AdvisoryLock(DbConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() =>
            await connection.ExecuteAsync("SELECT pg_advisory_unlock(@SchemaLockKey)", new { SchemaLockKey }).ConfigureAwait(false);
    }
}
