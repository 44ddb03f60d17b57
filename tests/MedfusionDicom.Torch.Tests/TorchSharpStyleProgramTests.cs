using System.Diagnostics;

namespace MedfusionDicom.Torch.Tests;

public sealed class TorchSharpStyleProgramTests
{
    /// <summary>TorchSharpStyleSample is built by this project's build (a ProjectReference without the assembly);
    /// the native library must have reached its output by the reference to src/MedfusionDicom.Torch alone.</summary>
    [Fact]
    public async Task Program_built_with_only_a_project_reference_runs()
    {
        var config = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        var outDir = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../TorchSharpStyleSample/bin", config, "net10.0"));
        Assert.True(File.Exists(Path.Combine(outDir, "libtorchshim.so")), $"libtorchshim.so was not copied to {outDir}");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(outDir, "TorchSharpStyleSample.dll"));
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await p.WaitForExitAsync(cts.Token);
        string output = await stdout, errors = await stderr;
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {output} {errors}");
        Assert.StartsWith("loss ", output);
    }
}
