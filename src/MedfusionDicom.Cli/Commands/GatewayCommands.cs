using System.CommandLine;
using System.Globalization;
using MedfusionDicom.Gateway;
using MedfusionDicom.Gateway.Storage;
using Microsoft.Extensions.Hosting;

namespace MedfusionDicom.Cli.Commands;

/// <summary>
/// `medfusion gateway` (the main job) and the operator verbs `jobs` and `studies`, which work on the same settings
/// and database as the gateway. Settings: the shipped config/appsettings.json, then --config FILE, then
/// MEDFUSION_Gateway__* environment variables.
/// </summary>
internal static class GatewayCommands
{
    public static IEnumerable<Command> Create() => [Gateway(), Jobs(), Studies()];

    private static Option<string?> ConfigOption() => new("--config") { Description = "Settings file (JSON, a \"Gateway\" section) over the shipped config/appsettings.json" };

    private static Command Gateway()
    {
        var config = ConfigOption();
        var cmd = new Command("gateway", "Run the gateway until stopped (Ctrl+C): DIMSE ingest, routing, inference, derived series, export") { config };
        CliAction.Set(cmd, async (parse, ct) =>
        {
            var options = Load(parse.GetValue(config));
            using var host = GatewayHostBuilder.Build(options);
            await host.RunAsync(ct).ConfigureAwait(false);
            return CliAction.Ok;
        });
        return cmd;
    }

    private static Command Jobs()
    {
        var jobs = new Command("jobs", "List, retry and cancel the gateway's inference jobs");
        var state = new Option<string?>("--state") { Description = "Only jobs in this state: queued, leased, done, failed or dead" };
        var listConfig = ConfigOption();
        var list = new Command("list", "List jobs, oldest first") { state, listConfig };
        CliAction.Set(list, async (parse, ct) =>
        {
            JobState? only = parse.GetValue(state) is { } s
                ? Enum.TryParse<JobState>(s, ignoreCase: true, out var parsed) && !int.TryParse(s, out _) ? parsed
                    : throw new ArgumentException($"--state '{s}' is not one of: queued, leased, done, failed, dead")
                : null;
            var index = await OpenIndexAsync(parse.GetValue(listConfig), ct).ConfigureAwait(false);
            var rows = await index.ListJobsAsync(only, ct).ConfigureAwait(false);
            Console.WriteLine($"{"ID",6}  {"STATE",-7} {"ATTEMPTS",8}  {"ROUTE",-16} {"SOURCE INSTANCE",-64}  LAST ERROR");
            foreach (var j in rows)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{j.Id,6}  {j.State.ToString().ToLowerInvariant(),-7} {j.Attempts,8}  {j.Route,-16} {j.SopInstanceUid,-64}  {j.LastError}"));
            Console.WriteLine($"{rows.Count} job(s)");
            return CliAction.Ok;
        });

        var id = new Argument<string?>("ID") { Description = "The job's ID (from jobs list)", Arity = ArgumentArity.ZeroOrOne };
        var dead = new Option<bool>("--dead") { Description = "Retry every dead job and dead export" };
        var retryConfig = ConfigOption();
        var retry = new Command("retry", "Queue a failed, dead or done job again with fresh attempts (or every dead one)") { id, dead, retryConfig };
        CliAction.Set(retry, async (parse, ct) =>
        {
            var index = await OpenIndexAsync(parse.GetValue(retryConfig), ct).ConfigureAwait(false);
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            if (parse.GetValue(dead))
            {
                if (parse.GetValue(id) is not null) throw new ArgumentException("give either ID or --dead, not both");
                Console.WriteLine($"{await index.RetryDeadAsync(now, ct).ConfigureAwait(false)} dead job(s) and export(s) queued again");
                return CliAction.Ok;
            }

            var jobId = ParseId(parse.GetValue(id));
            if (!await index.RetryJobAsync(jobId, now, ct).ConfigureAwait(false))
                throw new ArgumentException($"job {jobId} does not exist or is still queued or running");
            Console.WriteLine($"job {jobId} queued again");
            return CliAction.Ok;
        });

        var cancelId = new Argument<string>("ID") { Description = "The job's ID (from jobs list)" };
        var cancelConfig = ConfigOption();
        var cancel = new Command("cancel", "Stop a job that has not finished (it is marked failed)") { cancelId, cancelConfig };
        CliAction.Set(cancel, async (parse, ct) =>
        {
            var index = await OpenIndexAsync(parse.GetValue(cancelConfig), ct).ConfigureAwait(false);
            var jobId = ParseId(parse.GetValue(cancelId));
            if (!await index.CancelJobAsync(jobId, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), ct).ConfigureAwait(false))
                throw new ArgumentException($"job {jobId} does not exist or has already finished");
            Console.WriteLine($"job {jobId} cancelled");
            return CliAction.Ok;
        });
        jobs.Subcommands.Add(list);
        jobs.Subcommands.Add(retry);
        jobs.Subcommands.Add(cancel);
        return jobs;
    }

    private static Command Studies()
    {
        var studies = new Command("studies", "The studies the gateway holds");
        var config = ConfigOption();
        var list = new Command("list", "List studies, their state and their derived series") { config };
        CliAction.Set(list, async (parse, ct) =>
        {
            var options = Load(parse.GetValue(config));
            var index = await OpenIndexAsync(options, ct).ConfigureAwait(false);
            var quietSince = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - (long)(options.Assembly.StableSeconds * 1000);
            var rows = await index.ListStudiesAsync(quietSince, ct).ConfigureAwait(false);
            foreach (var s in rows)
            {
                Console.WriteLine($"study {s.StudyInstanceUid}  patient {s.PatientId} {s.PatientName}  {s.StudyDate}  {(s.Stable ? "stable" : "receiving")}  {s.Instances} received, {s.DerivedInstances} derived");
                foreach (var series in s.Series)
                {
                    var what = series.Derived ? $"derived by route {series.Route}; exports {series.ExportsDone} done, {series.ExportsQueued} queued, {series.ExportsDead} dead"
                        : $"jobs {series.JobsDone} done, {series.JobsQueued} queued or running, {series.JobsFailed} failed or dead";
                    Console.WriteLine($"  series {series.SeriesInstanceUid}  {series.Modality,-3} {series.Instances,4} instance(s)  {series.SeriesDescription}  ({what})");
                }
            }

            Console.WriteLine($"{rows.Count} stud{(rows.Count == 1 ? "y" : "ies")}");
            return CliAction.Ok;
        });
        studies.Subcommands.Add(list);
        return studies;
    }

    private static long ParseId(string? text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : throw new ArgumentException($"'{text}' is not a job ID (a number from jobs list)");

    /// <summary>The settings in the documented order.</summary>
    internal static GatewayOptions Load(string? configFile) =>
        GatewayHostBuilder.BindOptions(GatewayHostBuilder.LoadConfiguration(Path.Combine(AppContext.BaseDirectory, "config", "appsettings.json"), configFile));

    private static Task<GatewayIndex> OpenIndexAsync(string? configFile, CancellationToken ct) => OpenIndexAsync(Load(configFile), ct);

    private static async Task<GatewayIndex> OpenIndexAsync(GatewayOptions options, CancellationToken ct)
    {
        var index = GatewayIndex.Open(options.Database, Path.GetFullPath(options.DataDirectory));
        await index.MigrateAsync(ct).ConfigureAwait(false);
        return index;
    }
}
