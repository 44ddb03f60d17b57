using MedfusionDicom.Cli.Commands;
using MedfusionDicom.Dicom;

namespace MedfusionDicom.Cli.Tests;

/// <summary>How a verb's exception becomes one line on stderr and an exit code: bad input (2) or our bug (3, with a log file).</summary>
public class CliActionTests
{
    private static async Task<(int ExitCode, string Stderr)> RunAsync(Func<Task<int>> body, string logDirectory)
    {
        var stderr = new StringWriter();
        var code = await CliAction.RunAsync(body, stderr, logDirectory, CancellationToken.None);
        return (code, stderr.ToString());
    }

    public static TheoryData<Exception> BadInput => new(
        new DicomReaderException("not a DICOM file", 12),
        new DicomValueException("(0028,0103) PixelRepresentation holds 1 bytes"),
        new ArgumentException("--steps must be at least 1"),
        new FormatException("'x' is not a number"),
        new FileNotFoundException("/data/in.dcm does not exist"),
        new System.Text.Json.JsonException("config.json: unexpected token"));

    [Theory]
    [MemberData(nameof(BadInput))]
    public async Task Input_errors_are_one_line_with_the_message_and_exit_2(Exception error)
    {
        using var logs = new TempFolder();
        var (code, stderr) = await RunAsync(() => throw error, logs.Path);
        Assert.Equal(CliAction.BadInput, code);
        Assert.Equal($"medfusion: {error.Message}{Environment.NewLine}", stderr);
        Assert.Empty(Directory.GetFileSystemEntries(logs.Path));
    }

    [Fact]
    public async Task Anything_else_is_an_internal_error_whose_stack_trace_goes_to_the_log_named_on_one_line()
    {
        using var logs = new TempFolder();
        var (code, stderr) = await RunAsync(async () =>
        {
            await Task.Yield();
            throw new NullReferenceException("details of /srv/internal/state");
        }, logs.Path);
        Assert.Equal(CliAction.InternalError, code);
        var line = Assert.Single(stderr.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("medfusion: internal error: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("/srv/internal", line, StringComparison.Ordinal);
        var log = Assert.Single(Directory.GetFiles(logs.Path));
        Assert.EndsWith(log, line, StringComparison.Ordinal);
        var text = await File.ReadAllTextAsync(log);
        Assert.Contains("System.NullReferenceException: details of /srv/internal/state", text, StringComparison.Ordinal);
        Assert.Contains("   at ", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_internal_error_is_still_one_line_and_exit_3_when_the_log_cannot_be_written()
    {
        using var logs = new TempFolder();
        var blocked = Path.Combine(logs.Path, "a-file");
        await File.WriteAllTextAsync(blocked, "");
        var (code, stderr) = await RunAsync(() => throw new InvalidOperationException("bug"), Path.Combine(blocked, "logs"));
        Assert.Equal(CliAction.InternalError, code);
        var line = Assert.Single(stderr.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(CliAction.LogDirectoryVariable, line, StringComparison.Ordinal);
    }

    [Fact]
    public void The_exit_codes_stay_distinct()
    {
        Assert.Equal(4, new[] { CliAction.Ok, CliAction.Failed, CliAction.BadInput, CliAction.InternalError }.Distinct().Count());
    }

    [Fact]
    public void A_missing_file_given_to_the_real_executable_exits_2()
    {
        var r = CliRunner.Run("dicom", "dump", "/no/such/file.dcm");
        Assert.Equal(CliAction.BadInput, r.ExitCode);
        Assert.StartsWith("medfusion: /no/such/file.dcm", r.Stderr, StringComparison.Ordinal);
    }

    private sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("cli-logs-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
