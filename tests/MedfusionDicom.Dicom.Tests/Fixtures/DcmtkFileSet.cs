using System.Diagnostics;

namespace MedfusionDicom.Dicom.Tests.Fixtures;

/// <summary>What dcmtk makes of a DICOMDIR: whether dcmftest calls it a File-set, its record types and its referenced files.</summary>
public sealed record DcmtkFileSet(bool IsFileSet, IReadOnlyList<string> RecordTypes, IReadOnlyList<string> ReferencedFiles, string Output)
{
    /// <summary>Reads ROOT/DICOMDIR with dcmftest and dcmdump; referenced files come back as full paths under ROOT.</summary>
    public static DcmtkFileSet Read(string root)
    {
        var dicomdir = Path.Combine(root, "DICOMDIR");
        var ftest = Run(null, "dcmftest", dicomdir);
        var dump = Run(null, "dcmdump", "+P", "0004,1430", "+P", "0004,1500", dicomdir);
        if (dump.ExitCode != 0) throw new InvalidOperationException($"dcmdump failed on {dicomdir}: {dump.Output}");
        IEnumerable<string> Values(string tag) => dump.Output.Split('\n').Where(l => l.Contains(tag, StringComparison.Ordinal)).Select(l => l.Split('[', ']')[1]);
        return new DcmtkFileSet(
            ftest.ExitCode == 0 && ftest.Output.Contains("yes:", StringComparison.Ordinal),
            Values("(0004,1430)").ToList(),
            Values("(0004,1500)").Select(id => Path.Combine([root, .. id.Split('\\')])).ToList(),
            ftest.Output + dump.Output);
    }

    public int Count(string recordType) => RecordTypes.Count(t => t == recordType);

    /// <summary>Runs a dcmtk tool (in <paramref name="directory"/> when given); its exit code and its output.</summary>
    public static (int ExitCode, string Output) Run(string? directory, string name, params string[] args)
    {
        var psi = new ProcessStartInfo(name) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory ?? "" };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit(60_000);
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
