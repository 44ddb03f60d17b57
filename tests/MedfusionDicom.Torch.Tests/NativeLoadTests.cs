using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace MedfusionDicom.Torch.Tests;

/// <summary>
/// TorchSharp's native library loads on this machine, with the GLIBCXX_3.4.32 need made weak on the build's copy only
/// where the system libstdc++ lacks that version (Debian 12), and the NuGet cache left as it came.
/// </summary>
public sealed class NativeLoadTests
{
    private static string OutputCopy => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    private static string PackageCopy
    {
        get
        {
            var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } set
                ? set : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            var version = typeof(torch).Assembly.GetName().Version!;
            return Path.Combine(cache, "torchsharp", $"{version.Major}.{version.Minor}.{version.Build}", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        }
    }

    private static string Check(string library)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "build", "torchsharp-glibcxx.py");
        using var process = Process.Start(new ProcessStartInfo("python3", ["-B", Path.GetFullPath(script), "--check", library])
            { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, output);
        return output;
    }

    private static bool SystemHasGlibcxx3432()
    {
        using var ldconfig = Process.Start(new ProcessStartInfo("ldconfig", "-p") { RedirectStandardOutput = true })!;
        var line = ldconfig.StandardOutput.ReadToEnd().Split('\n').First(l => l.Contains("libstdc++.so.6 ", StringComparison.Ordinal) && l.Contains("x86-64", StringComparison.Ordinal));
        ldconfig.WaitForExit();
        var bytes = File.ReadAllBytes(line[(line.IndexOf("=> ", StringComparison.Ordinal) + 3)..].Trim());
        return bytes.AsSpan().IndexOf("GLIBCXX_3.4.32\0"u8) >= 0;
    }

    [Fact]
    public void TorchSharp_loads_and_runs_a_convolution()
    {
        using var scope = NewDisposeScope();
        // A 3x3 box filter over ones with zero padding: 9 inside, 6 on the edges, 4 in the corners.
        using var conv = nn.Conv2d(1, 1, 3, padding: 1, bias: false);
        using (no_grad()) conv.weight.fill_(1);
        var y = conv.call(ones(1, 1, 4, 4));
        Assert.Equal([4f, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4], y.ToArray<float>());
        Assert.StartsWith("2.10", torch.__version__);
    }

    [Fact]
    public void The_build_made_only_its_own_copy_loadable_and_only_where_the_system_needs_it()
    {
        Assert.True(File.Exists(OutputCopy), $"{OutputCopy} is missing");
        if (SystemHasGlibcxx3432())
        {
            // GCC 13 or newer (Ubuntu 24.04, Debian 13): nothing is edited.
            Assert.Contains("nothing to do", Check(OutputCopy));
            if (File.Exists(PackageCopy)) Assert.Equal(File.ReadAllBytes(PackageCopy), File.ReadAllBytes(OutputCopy));
            return;
        }
        Assert.Contains("already a weak need", Check(OutputCopy));
        Assert.True(File.Exists(PackageCopy), $"the NuGet cache's copy is not at {PackageCopy}");
        Assert.Contains("would clear", Check(PackageCopy));
    }
}

public sealed class TorchDevicesTests
{
    [Fact]
    public void Cpu_and_auto_resolve_here_and_cuda_without_a_device_says_how_to_get_one()
    {
        Assert.Equal(DeviceType.CPU, TorchDevices.Resolve("cpu").type);
        Assert.Equal("cpu", TorchDevices.Describe(TorchDevices.Resolve("CPU")));
        Assert.Equal(cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU, TorchDevices.Resolve("auto").type);
        Assert.Equal(TorchDevices.Resolve(null).type, TorchDevices.Resolve("auto").type);
        if (!cuda.is_available())
        {
            var e = Assert.Throws<ArgumentException>(() => TorchDevices.Resolve("cuda"));
            Assert.Contains("TorchBackend=cuda-linux", e.Message);
            Assert.Contains("TorchSharp-cpu", e.Message);
        }
        Assert.Contains("expected cpu, cuda, cuda:N or auto", Assert.Throws<ArgumentException>(() => TorchDevices.Resolve("tpu")).Message);
    }
}
