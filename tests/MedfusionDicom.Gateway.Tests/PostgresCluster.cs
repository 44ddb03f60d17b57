using System.Globalization;
using MedfusionDicom.Dimse.Tests;
using Npgsql;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>
/// A private PostgreSQL cluster for the tests: Debian's postgresql binaries, initdb into a temporary folder and
/// pg_ctl on a free loopback port. PostgreSQL refuses to run as root, so as root the cluster belongs to, and runs as,
/// the postgres user (runuser). Each test takes a database of its own.
/// </summary>
public sealed class PostgresCluster : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private int _databases;

    public int Port { get; } = Tools.FreePort();
    private string DataDirectory => Path.Combine(_dir.Path, "pgdata");

    private static readonly bool IsRoot = !OperatingSystem.IsWindows() && Environment.UserName == "root";

    /// <summary>The newest /usr/lib/postgresql/N/bin with pg_ctl (where Debian puts it: not on PATH), else PATH.</summary>
    private static string Bin(string tool)
    {
        var versions = Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql") : [];
        var bin = versions.Select(v => Path.Combine(v, "bin"))
            .Where(b => File.Exists(Path.Combine(b, "pg_ctl")))
            .OrderByDescending(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), out var n) ? n : 0)
            .FirstOrDefault();
        return bin is null ? tool : Path.Combine(bin, tool);
    }

    private static Task<ToolResult> RunAsPostgresAsync(string tool, IEnumerable<string> args) =>
        IsRoot ? Tools.RunAsync("runuser", ["-u", "postgres", "--", Bin(tool), .. args], TimeSpan.FromMinutes(2))
            : Tools.RunAsync(Bin(tool), args, TimeSpan.FromMinutes(2));

    public async Task InitializeAsync()
    {
        if (IsRoot && !OperatingSystem.IsWindows())
        {
            // The temporary folder is 0700 root: the postgres user must be able to reach its own data folder.
            File.SetUnixFileMode(_dir.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
            Directory.CreateDirectory(DataDirectory);
            Check(await Tools.RunAsync("chown", ["postgres:postgres", DataDirectory]), "chown");
        }

        Check(await RunAsPostgresAsync("initdb", ["-D", DataDirectory, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]), "initdb");
        var options = string.Join(' ', "-c listen_addresses=127.0.0.1", $"-p {Port.ToString(CultureInfo.InvariantCulture)}",
            $"-c unix_socket_directories={DataDirectory}", "-c max_connections=300");
        Check(await RunAsPostgresAsync("pg_ctl", ["-D", DataDirectory, "-l", Path.Combine(DataDirectory, "server.log"), "-w", "-t", "60", "-o", options, "start"]), "pg_ctl start");
    }

    public async Task DisposeAsync()
    {
        await RunAsPostgresAsync("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "stop"]);
        _dir.Dispose();
    }

    private static void Check(ToolResult result, string what)
    {
        if (result.ExitCode != 0) throw new InvalidOperationException($"{what} failed ({result.ExitCode}): {result.Output}");
    }

    private string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username=postgres;Database={database}";

    /// <summary>A new, empty database; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "gateway" + Interlocked.Increment(ref _databases).ToString(CultureInfo.InvariantCulture);
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresCluster>
{
    public const string Name = "PostgreSQL";
}
