using static TorchSharp.torch;

namespace MedfusionDicom.Torch.Serialization;

/// <summary>Raw little-endian tensor data, as checkpoint files store it.</summary>
internal static class TensorBytes
{
    public static int ElementSize(ScalarType type) => type switch
    {
        ScalarType.Byte or ScalarType.Int8 or ScalarType.Bool => 1,
        ScalarType.Int16 or ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Int32 or ScalarType.Float32 => 4,
        ScalarType.Int64 or ScalarType.Float64 or ScalarType.ComplexFloat32 => 8,
        ScalarType.ComplexFloat64 => 16,
        _ => throw new TorchException($"dtype {type} has no stored form"),
    };

    /// <summary>A new CPU tensor holding a copy of <paramref name="bytes"/>.</summary>
    public static Tensor FromBytes(ReadOnlySpan<byte> bytes, ScalarType type, long[] shape)
    {
        var tensor = empty(shape, type);
        if (bytes.Length != tensor.numel() * ElementSize(type))
        {
            tensor.Dispose();
            throw new TorchException($"{bytes.Length} bytes do not fill a {type} tensor of shape [{string.Join(", ", shape)}]");
        }
        bytes.CopyTo(tensor.bytes);
        return tensor;
    }

    /// <summary>Copies the tensor's data (moved to the CPU, made contiguous) into <paramref name="destination"/>.</summary>
    public static void CopyBytesTo(this Tensor tensor, Span<byte> destination)
    {
        using var cpu = tensor.cpu().contiguous();
        cpu.bytes.CopyTo(destination);
    }
}
