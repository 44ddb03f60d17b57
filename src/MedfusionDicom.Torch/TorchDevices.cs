using TorchSharp;
using static TorchSharp.torch;

namespace MedfusionDicom.Torch;

/// <summary>The <c>--device cpu|cuda|auto</c> choice of the worker, the CLI and training.</summary>
public static class TorchDevices
{
    public const string Auto = "auto";

    /// <summary>
    /// "cpu"; "cuda" or "cuda:N" (an error when TorchSharp sees no CUDA device: the CPU package is the default build);
    /// "auto" (default): the first CUDA device when there is one, else the CPU.
    /// </summary>
    public static Device Resolve(string? name)
    {
        var choice = string.IsNullOrWhiteSpace(name) ? Auto : name.Trim().ToLowerInvariant();
        if (choice == Auto) return cuda.is_available() ? CUDA : CPU;
        if (choice == "cpu") return CPU;
        if (choice == "cuda" || choice.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!cuda.is_available())
                throw new ArgumentException($"--device {name}: TorchSharp finds no CUDA device; this build uses TorchSharp-{TorchBuild.Backend} " +
                    "(build with -p:TorchBackend=cuda-linux on a machine with an NVIDIA driver), or use --device cpu");
            var device = new Device(choice);
            if (device.index >= cuda.device_count())
                throw new ArgumentException($"--device {name}: there are {cuda.device_count()} CUDA devices");
            return device;
        }
        throw new ArgumentException($"--device {name}: expected cpu, cuda, cuda:N or auto");
    }

    /// <summary>How a device shows in logs and in ListModels: "cpu", "cuda:0".</summary>
    public static string Describe(Device device) => device.type == DeviceType.CUDA ? $"cuda:{Math.Max(0, device.index)}" : "cpu";
}

/// <summary>Which TorchSharp package this build references (the TorchBackend build property).</summary>
public static class TorchBuild
{
    public static string Backend =>
        typeof(TorchBuild).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .OfType<System.Reflection.AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "TorchBackend")?.Value ?? "cpu";
}
