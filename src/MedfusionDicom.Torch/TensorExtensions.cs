using TorchSharp;
using static TorchSharp.torch;

namespace MedfusionDicom.Torch;

public static class TensorExtensions
{
    /// <summary>
    /// The tensor's elements in row-major order as <typeparamref name="T"/>, from any device and dtype (PyTorch's
    /// <c>t.flatten().tolist()</c>): a CPU copy converted to T's dtype when the tensor's differs.
    /// </summary>
    public static T[] ToArray<T>(this Tensor tensor) where T : unmanaged
    {
        var type = ScalarTypeOf<T>();
        using var scope = NewDisposeScope();
        var cpu = tensor.device_type == DeviceType.CPU ? tensor : tensor.cpu();
        if (cpu.dtype != type) cpu = cpu.to(type);
        return cpu.contiguous().data<T>().ToArray();
    }

    private static ScalarType ScalarTypeOf<T>() => default(T) switch
    {
        float => ScalarType.Float32,
        double => ScalarType.Float64,
        long => ScalarType.Int64,
        int => ScalarType.Int32,
        short => ScalarType.Int16,
        byte => ScalarType.Byte,
        sbyte => ScalarType.Int8,
        bool => ScalarType.Bool,
        Half => ScalarType.Float16,
        _ => throw new NotSupportedException($"no tensor dtype holds {typeof(T).Name}"),
    };
}
