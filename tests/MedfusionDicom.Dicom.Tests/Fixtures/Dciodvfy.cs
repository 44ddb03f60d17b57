using System.Diagnostics;

namespace MedfusionDicom.Dicom.Tests.Fixtures;

/// <summary>What dicom3tools' dciodvfy said about one file: its "Error" lines and its "Warning" lines.</summary>
public sealed record DciodvfyReport(IReadOnlyList<string> Errors, IReadOnlyList<string> Warnings)
{
    /// <summary>
    /// The errors not already in <paramref name="source"/>'s report: an error the source file has (a vendor's
    /// misplaced Laterality, say) is copied with the attributes a derived image must keep, and is not the builder's.
    /// </summary>
    public IReadOnlyList<string> ErrorsNotIn(DciodvfyReport source) => Errors.Except(source.Errors).Where(e => !IsToolGap(e)).ToList();

    /// <summary>
    /// Errors that are the tool's, not the instance's: Debian's dicom3tools (1.00~20220618) predates Synthetic Data
    /// (0008,001C), a standard SOP Common attribute since (PS3.6), and calls it an unknown even-group attribute.
    /// Only that exact complaint about that one tag is excused; the builder writes it because the issue requires it.
    /// </summary>
    public static bool IsToolGap(string error) =>
        error.Contains("(0x0008,0x001c)", StringComparison.Ordinal) && error.Contains("not a recognized standard attribute", StringComparison.Ordinal);
}

/// <summary>Runs dciodvfy (Debian dicom3tools, installed by scripts/bootstrap) on files and datasets.</summary>
public static class Dciodvfy
{
    public static DciodvfyReport Run(string path)
    {
        var psi = new ProcessStartInfo("dciodvfy", [path])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("dciodvfy did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var lines = (stdout + "\n" + stderr.Result).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        // An assertion failure or a crash prints no "Error" line: a non-zero exit with no report is a failure too.
        if (process.ExitCode != 0 && !lines.Any(l => l.StartsWith("Error", StringComparison.Ordinal)))
            throw new InvalidOperationException($"dciodvfy exited {process.ExitCode} on {path}: {string.Join(" | ", lines)}");
        return new DciodvfyReport(
            lines.Where(l => l.StartsWith("Error", StringComparison.Ordinal)).ToList(),
            lines.Where(l => l.Contains("Warning", StringComparison.Ordinal)).ToList());
    }

    public static DciodvfyReport Run(DicomDataset dataset)
    {
        var path = Path.Combine(Path.GetTempPath(), "medfusion-dciodvfy-" + Guid.NewGuid().ToString("N") + ".dcm");
        try
        {
            var copy = dataset.Clone();
            copy.InternalTransferSyntax = DicomTransferSyntax.ExplicitVRLittleEndian;
            new DicomFile(copy).Save(path);
            return Run(path);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

