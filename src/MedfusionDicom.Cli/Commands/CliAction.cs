using System.CommandLine;
using MedfusionDicom.Dicom;

namespace MedfusionDicom.Cli.Commands;

/// <summary>
/// Runs a verb's body so that bad input ends in a one-line message on stderr and a non-zero exit code, never a
/// stack trace: the CLI is called by scripts that read its exit status.
/// </summary>
internal static class CliAction
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int BadInput = 2;

    public static void Set(Command command, Func<ParseResult, CancellationToken, Task<int>> body) =>
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                return await body(parse, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                Console.Error.WriteLine("medfusion: cancelled");
                return 130;
            }
            catch (Exception ex) when (ex is DicomException or IOException or UnauthorizedAccessException or ArgumentException or FormatException or InvalidOperationException)
            {
                Console.Error.WriteLine($"medfusion: {OneLine(ex.Message)}");
                return BadInput;
            }
        });

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
