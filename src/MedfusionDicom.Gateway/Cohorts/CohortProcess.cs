using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Gateway.Cohorts;

/// <summary>
/// Runs a cohort job's generation as `medfusion cohort` in a child process at nice 19: the model, the classifier and
/// the training thumbnails take the child's memory, not the gateway's, and its threads yield the CPU to ingest. The
/// verb's progress bar is read for the job's progress; its exit code and last line say how it ended.
/// </summary>
internal static partial class CohortProcess
{
    private const int Niceness = 19;

    /// <summary>Whether this process can start `medfusion` verbs (a gateway run as `medfusion gateway`).</summary>
    public static bool Available => MedfusionCommand.Self() is not null;

    public static async Task RunAsync(CohortRequest request, IProgress<CohortProgress> progress, ILogger logger, string jobId, CancellationToken ct)
    {
        var start = MedfusionCommand.StartInfo("cohort", Arguments(request), Niceness);
        using var process = Process.Start(start) ?? throw new CohortException($"{start.FileName} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var lastLine = await ReadProgressAsync(process.StandardError, progress, ct).ConfigureAwait(false);
        try
        {
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            throw;
        }
        GatewayLog.CohortProcessEnded(logger, jobId, process.ExitCode, (await stdout.ConfigureAwait(false)).Trim());
        switch (process.ExitCode)
        {
            case 0:
            case 1: // written, with images left out that stayed too similar: the report lists them
                return;
            case 2:
                throw new CohortException(lastLine.StartsWith("medfusion: ", StringComparison.Ordinal) ? lastLine["medfusion: ".Length..] : lastLine);
            default:
                throw new InvalidOperationException($"`medfusion cohort` exited with {process.ExitCode}: {lastLine}");
        }
    }

    private static IEnumerable<string> Arguments(CohortRequest r)
    {
        var inv = CultureInfo.InvariantCulture;
        var args = new List<string>
        {
            "--model", r.ModelDirectory, "--patients", r.Patients.ToString(inv),
            "--mix", string.Join(',', r.Mix.Select(m => m.Label + "=" + m.Fraction.ToString("R", inv))),
            "--images-per-patient", r.ImagesPerPatient.ToString(inv), "--out", r.OutputDirectory, "--seed", r.Seed.ToString(inv),
            "--steps", r.Steps.ToString(inv), "--sampler", r.Sampler == Diffusion.Schedulers.SamplerKind.Ddim ? "ddim" : "dpm++",
            "--guidance", r.Guidance.ToString("R", inv), "--max-attempts", r.MaxAttempts.ToString(inv),
            "--classifier-steps", r.ClassifierSteps.ToString(inv),
            "--date-range", $"{r.FirstStudyDate.ToString("yyyy-MM-dd", inv)}..{r.LastStudyDate.ToString("yyyy-MM-dd", inv)}",
            "--device", "cpu",
        };
        if (r.MaxSimilarity is { } max) args.AddRange(["--max-similarity", max.ToString("R", inv)]);
        if (r.TrainingData is { } data) args.AddRange(["--training-data", data]);
        if (r.RequireScreening) args.Add("--require-screening");
        if (r.Iod is { } iod) args.AddRange(["--iod", iod == Dicom.Derived.SyntheticIod.DigitalXRay ? "dx" : "sc"]);
        return args;
    }

    /// <summary>Reads the verb's stderr: "\r[####----] 12/40 images 3.50 img/s, 2 blocked" updates, then its one-line outcome; returns that last line.</summary>
    private static async Task<string> ReadProgressAsync(StreamReader stderr, IProgress<CohortProgress> progress, CancellationToken ct)
    {
        var buffer = new char[4096];
        var line = new StringBuilder();
        var last = "";
        int read;
        while ((read = await stderr.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
        {
            for (var i = 0; i < read; i++)
            {
                var c = buffer[i];
                if (c is not ('\r' or '\n'))
                {
                    line.Append(c);
                    continue;
                }
                var text = line.ToString().Trim();
                line.Clear();
                if (text.Length == 0) continue;
                var m = ProgressLine().Match(text);
                if (m.Success)
                    progress.Report(new CohortProgress(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture),
                        m.Groups[4].Success ? int.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture) : 0,
                        double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture)));
                else last = text;
            }
        }
        return line.Length > 0 ? line.ToString().Trim() : last;
    }

    [GeneratedRegex(@"\] (\d+)/(\d+) images ([0-9.]+) img/s(?:, (\d+) blocked)?")]
    private static partial Regex ProgressLine();
}
