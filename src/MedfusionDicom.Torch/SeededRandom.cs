using TorchSharp;
using static TorchSharp.torch;

namespace MedfusionDicom.Torch;

/// <summary>
/// Seeded draws that give the same numbers on every device: drawn on the CPU from a CPU generator, then moved. A CPU
/// generator cannot draw on CUDA, and a CUDA generator would give other numbers for the same seed.
/// </summary>
public static class SeededRandom
{
    public static Tensor randn(long[] shape, ScalarType dtype, Device device, Generator? generator)
    {
        if (device.type == DeviceType.CPU) return torch.randn(shape, dtype, device, generator: generator);
        using var cpu = torch.randn(shape, dtype, CPU, generator: generator);
        return cpu.to(device);
    }

    public static Tensor randint(long low, long high, long[] shape, Device device, Generator? generator)
    {
        if (device.type == DeviceType.CPU) return torch.randint(low, high, shape, ScalarType.Int64, device, generator: generator);
        using var cpu = torch.randint(low, high, shape, ScalarType.Int64, CPU, generator: generator);
        return cpu.to(device);
    }
}
