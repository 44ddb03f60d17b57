using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using MedfusionDicom.Dicom;
using MedfusionDicom.Diffusion.Data;

namespace MedfusionDicom.Cli.Commands;

/// <summary>
/// Runs a verb's body so that it ends in a one-line message on stderr and an exit code that tells scripts what
/// happened, never a stack trace: bad input (exit 2) names what was wrong; anything else is our bug (exit 3), whose
/// stack trace goes to a log file that the one line points to.
/// </summary>
internal static class CliAction
{
    public const int Ok = 0;
    /// <summary>The verb ran, but what it did failed (a peer refused instances, a check did not pass).</summary>
    public const int Failed = 1;
    /// <summary>The input was wrong: a file that is not valid DICOM, an option that does not parse, a missing file.</summary>
    public const int BadInput = 2;
    /// <summary>A bug of ours; the log file named on stderr has the exception and its stack trace.</summary>
    public const int InternalError = 3;
    public const int Cancelled = 130;

    /// <summary>Environment variable naming the folder for internal-error logs (default: TEMP/medfusion).</summary>
    public const string LogDirectoryVariable = "MEDFUSION_LOG_DIR";

    public static void Set(Command command, Func<ParseResult, CancellationToken, Task<int>> body) =>
        command.SetAction((parse, ct) => RunAsync(() => body(parse, ct), Console.Error, DefaultLogDirectory(), ct));

    internal static async Task<int> RunAsync(Func<Task<int>> body, TextWriter stderr, string logDirectory, CancellationToken ct)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await stderr.WriteLineAsync("medfusion: cancelled").ConfigureAwait(false);
            return Cancelled;
        }
        catch (Exception ex) when (IsBadInput(ex))
        {
            await stderr.WriteLineAsync($"medfusion: {OneLine(ex.Message)}").ConfigureAwait(false);
            return BadInput;
        }
        catch (Exception ex)
        {
            await stderr.WriteLineAsync($"medfusion: internal error: {await WriteLogAsync(ex, logDirectory).ConfigureAwait(false)}").ConfigureAwait(false);
            return InternalError;
        }
    }

    /// <summary>
    /// The exceptions our code raises for input it refuses, each with a message that says what was wrong and where.
    /// IOException covers files that do not exist or cannot be written: the user's environment, not our bug.
    /// </summary>
    internal static bool IsBadInput(Exception ex) =>
        ex is DicomException or ArgumentException or FormatException or IOException or UnauthorizedAccessException
            or InvalidDataException or JsonException or NpyFormatException or MedfusionDicom.Imaging.ImagingException
            or Microsoft.Extensions.Options.OptionsValidationException or MedfusionDicom.Gateway.GatewayConfigurationException
            or MedfusionDicom.Gateway.Cohorts.CohortException;

    private static string DefaultLogDirectory() =>
        Environment.GetEnvironmentVariable(LogDirectoryVariable) is { Length: > 0 } dir ? dir : Path.Combine(Path.GetTempPath(), "medfusion");

    /// <summary>Writes the whole exception to a new log file; returns the rest of the one line that tells the user where.</summary>
    private static async Task<string> WriteLogAsync(Exception ex, string directory)
    {
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var path = Path.Combine(directory, $"medfusion-{stamp}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}.log");
        var text = $"{DateTime.UtcNow:O} medfusion {string.Join(' ', Environment.GetCommandLineArgs().Skip(1))}{Environment.NewLine}{ex}{Environment.NewLine}";
        try
        {
            Directory.CreateDirectory(directory);
            await File.WriteAllTextAsync(path, text).ConfigureAwait(false);
            return $"this is a bug in medfusion; the log with the stack trace is {path}";
        }
        catch (Exception logFailure) when (logFailure is IOException or UnauthorizedAccessException)
        {
            return $"this is a bug in medfusion; its log could not be written to {directory} ({OneLine(logFailure.Message)}); set {LogDirectoryVariable} to a writable folder";
        }
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
