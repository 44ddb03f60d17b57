using System.Diagnostics;

namespace MedfusionDicom.Torch.Tests;

/// <summary>Runs the PyTorch oracle scripts with Debian's python3-torch (/usr/bin/python3, not a pyenv python).</summary>
internal static class Oracle
{
    public const string Python = "/usr/bin/python3";
    public static string ScriptDir => Path.Combine(AppContext.BaseDirectory, "oracle");

    public static string Run(string script, params string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = ScriptDir };
        psi.ArgumentList.Add(Path.Combine(ScriptDir, script));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {Python}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3))) { p.Kill(true); throw new TimeoutException($"{script} did not finish in 3 minutes"); }
        if (p.ExitCode != 0) throw new InvalidOperationException($"{script} failed ({p.ExitCode}): {stderr.Result}");
        return stdout.Result;
    }

    public static string TempDir(string prefix)
    {
        var d = Path.Combine(Path.GetTempPath(), $"{prefix}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(d);
        return d;
    }
}
