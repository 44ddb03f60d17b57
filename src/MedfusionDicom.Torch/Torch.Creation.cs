using System.Runtime.InteropServices;
using MedfusionDicom.Torch.Native;

namespace MedfusionDicom.Torch;

public static partial class torch
{
    private enum NewKind { Empty = 0, Zeros, Ones, Full, Rand, Randn, Randint, Arange, Linspace, Eye }

    private static unsafe Tensor New(NewKind kind, ReadOnlySpan<long> size, ScalarType? dtype, Device? device, bool requires_grad,
        ReadOnlySpan<double> args = default, Generator? generator = null)
    {
        IntPtr h;
        int rc;
        fixed (long* ps = size)
        fixed (double* pa = args)
            rc = NativeMethods.ts_new((int)kind, ps, size.Length, (int)(dtype ?? defaultDType), (int)(device?.type ?? DeviceType.CPU),
                device?.index ?? -1, requires_grad ? 1 : 0, pa, args.Length, generator?.Handle ?? IntPtr.Zero, out h);
        GC.KeepAlive(generator);
        NativeMethods.Check(rc);
        return new Tensor(h);
    }

    // ---- factories (TorchSharp signatures) ----
    public static Tensor empty(long[] size, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => New(NewKind.Empty, size, dtype, device, requires_grad);
    public static Tensor zeros(long[] size, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => New(NewKind.Zeros, size, dtype, device, requires_grad);
    public static Tensor ones(long[] size, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => New(NewKind.Ones, size, dtype, device, requires_grad);
    public static Tensor full(long[] size, Scalar value, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) =>
        New(NewKind.Full, size, dtype ?? (value.IsIntegral ? ScalarType.Int64 : null), device, requires_grad, [value.Value]);
    public static Tensor rand(long[] size, ScalarType? dtype = null, Device? device = null, bool requires_grad = false, Generator? generator = null) => New(NewKind.Rand, size, dtype, device, requires_grad, default, generator);
    public static Tensor randn(long[] size, ScalarType? dtype = null, Device? device = null, bool requires_grad = false, Generator? generator = null) => New(NewKind.Randn, size, dtype, device, requires_grad, default, generator);
    public static Tensor randint(long low, long high, long[] size, ScalarType? dtype = null, Device? device = null, bool requires_grad = false, Generator? generator = null) =>
        New(NewKind.Randint, size, dtype ?? ScalarType.Int64, device, requires_grad, [low, high], generator);
    public static Tensor randint(long high, long[] size, ScalarType? dtype = null, Device? device = null, bool requires_grad = false, Generator? generator = null) =>
        randint(0, high, size, dtype, device, requires_grad, generator);
    public static Tensor eye(long n, long m = -1, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) =>
        New(NewKind.Eye, default, dtype, device, requires_grad, [n, m < 0 ? n : m]);

    // dimension-list overloads: torch.zeros(2, 3), torch.randn(8, 128, 32, 32)
    public static Tensor empty(long d0, long d1 = -1, long d2 = -1, long d3 = -1, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => empty(Dims(d0, d1, d2, d3), dtype, device, requires_grad);
    public static Tensor zeros(long d0, long d1 = -1, long d2 = -1, long d3 = -1, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => zeros(Dims(d0, d1, d2, d3), dtype, device, requires_grad);
    public static Tensor ones(long d0, long d1 = -1, long d2 = -1, long d3 = -1, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => ones(Dims(d0, d1, d2, d3), dtype, device, requires_grad);
    public static Tensor rand(long d0, long d1 = -1, long d2 = -1, long d3 = -1, ScalarType? dtype = null, Device? device = null, bool requires_grad = false, Generator? generator = null) => rand(Dims(d0, d1, d2, d3), dtype, device, requires_grad, generator);
    public static Tensor randn(long d0, long d1 = -1, long d2 = -1, long d3 = -1, ScalarType? dtype = null, Device? device = null, bool requires_grad = false, Generator? generator = null) => randn(Dims(d0, d1, d2, d3), dtype, device, requires_grad, generator);
    private static long[] Dims(long d0, long d1, long d2, long d3) =>
        d1 < 0 ? [d0] : d2 < 0 ? [d0, d1] : d3 < 0 ? [d0, d1, d2] : [d0, d1, d2, d3];

    public static Tensor empty_like(Tensor input, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => empty(input.shape, dtype ?? input.dtype, device ?? input.device, requires_grad);
    public static Tensor zeros_like(Tensor input, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => zeros(input.shape, dtype ?? input.dtype, device ?? input.device, requires_grad);
    public static Tensor ones_like(Tensor input, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => ones(input.shape, dtype ?? input.dtype, device ?? input.device, requires_grad);
    public static Tensor full_like(Tensor input, Scalar value, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => full(input.shape, value, dtype ?? input.dtype, device ?? input.device, requires_grad);
    public static Tensor rand_like(Tensor input, ScalarType? dtype = null, Device? device = null, bool requires_grad = false, Generator? generator = null) => rand(input.shape, dtype ?? input.dtype, device ?? input.device, requires_grad, generator);
    public static Tensor randn_like(Tensor input, ScalarType? dtype = null, Device? device = null, bool requires_grad = false, Generator? generator = null) => randn(input.shape, dtype ?? input.dtype, device ?? input.device, requires_grad, generator);
    public static Tensor randint_like(Tensor input, long low, long high, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => randint(low, high, input.shape, dtype ?? input.dtype, device ?? input.device, requires_grad);

    /// <summary>Values from start to stop (exclusive) by step; integral arguments give int64, as in PyTorch.</summary>
    public static Tensor arange(Scalar start, Scalar stop, Scalar step, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) =>
        New(NewKind.Arange, default, dtype ?? (start.IsIntegral && stop.IsIntegral && step.IsIntegral ? ScalarType.Int64 : null), device, requires_grad, [start.Value, stop.Value, step.Value]);
    public static Tensor arange(Scalar start, Scalar stop, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => arange(start, stop, 1, dtype, device, requires_grad);
    public static Tensor arange(Scalar stop, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => arange(0, stop, 1, dtype, device, requires_grad);
    public static Tensor linspace(double start, double end, long steps, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) =>
        New(NewKind.Linspace, default, dtype, device, requires_grad, [start, end, steps]);

    // ---- from .NET data: one copy, straight from the caller's memory into the tensor ----
    private static unsafe Tensor FromSpan<T>(ReadOnlySpan<T> data, ReadOnlySpan<long> shape, ScalarType? dtype, Device? device, bool requires_grad) where T : unmanaged
    {
        var natural = ToScalarType<T>();
        IntPtr h;
        int rc;
        fixed (T* p = data)
        fixed (long* ps = shape)
            rc = NativeMethods.ts_from_data(p, (long)data.Length * sizeof(T), ps, shape.Length, (int)natural,
                (int)DeviceType.CPU, -1, 0, out h);
        NativeMethods.Check(rc);
        var t = new Tensor(h);
        if ((dtype.HasValue && dtype.Value != natural) || (device is not null && device.type != DeviceType.CPU))
        {
            var moved = t.to(dtype ?? natural, device ?? CPU);
            t.Dispose();
            t = moved;
        }
        if (requires_grad) t.requires_grad = true;
        return t;
    }

    private static long[] Shape1(int n) => [n];

    public static Tensor tensor(ReadOnlySpan<float> data, ReadOnlySpan<long> shape, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan(data, shape, dtype, device, requires_grad);
    public static Tensor tensor(float[] rawArray, long[] dimensions, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<float>(rawArray, dimensions, dtype, device, requires_grad);
    public static Tensor tensor(float[] rawArray, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<float>(rawArray, Shape1(rawArray.Length), dtype, device, requires_grad);
    public static Tensor tensor(double[] rawArray, long[] dimensions, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<double>(rawArray, dimensions, dtype, device, requires_grad);
    public static Tensor tensor(double[] rawArray, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<double>(rawArray, Shape1(rawArray.Length), dtype, device, requires_grad);
    public static Tensor tensor(long[] rawArray, long[] dimensions, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<long>(rawArray, dimensions, dtype, device, requires_grad);
    public static Tensor tensor(long[] rawArray, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<long>(rawArray, Shape1(rawArray.Length), dtype, device, requires_grad);
    public static Tensor tensor(int[] rawArray, long[] dimensions, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<int>(rawArray, dimensions, dtype, device, requires_grad);
    public static Tensor tensor(int[] rawArray, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<int>(rawArray, Shape1(rawArray.Length), dtype, device, requires_grad);
    public static Tensor tensor(byte[] rawArray, long[] dimensions, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<byte>(rawArray, dimensions, dtype, device, requires_grad);
    public static Tensor tensor(byte[] rawArray, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<byte>(rawArray, Shape1(rawArray.Length), dtype, device, requires_grad);
    public static Tensor tensor(bool[] rawArray, long[] dimensions, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<bool>(rawArray, dimensions, dtype, device, requires_grad);
    public static Tensor tensor(bool[] rawArray, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<bool>(rawArray, Shape1(rawArray.Length), dtype, device, requires_grad);
    public static Tensor tensor(short[] rawArray, long[] dimensions, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<short>(rawArray, dimensions, dtype, device, requires_grad);
    public static Tensor tensor(Half[] rawArray, long[] dimensions, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<Half>(rawArray, dimensions, dtype, device, requires_grad);
    public static Tensor tensor(BFloat16[] rawArray, long[] dimensions, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<BFloat16>(rawArray, dimensions, dtype, device, requires_grad);
    public static Tensor tensor(float scalar, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<float>([scalar], default, dtype, device, requires_grad);
    public static Tensor tensor(double scalar, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<double>([scalar], default, dtype, device, requires_grad);
    public static Tensor tensor(long scalar, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<long>([scalar], default, dtype, device, requires_grad);
    public static Tensor tensor(int scalar, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<long>([scalar], default, dtype ?? ScalarType.Int64, device, requires_grad);
    public static Tensor tensor(bool scalar, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) => FromSpan<bool>([scalar], default, dtype, device, requires_grad);

    /// <summary>A tensor from raw bytes of the given dtype (e.g. a memory-mapped file region); one copy.</summary>
    public static Tensor frombuffer(ReadOnlySpan<byte> bytes, ScalarType dtype, ReadOnlySpan<long> shape) =>
        FromBytes(bytes, dtype, shape);

    internal static unsafe Tensor FromBytes(ReadOnlySpan<byte> bytes, ScalarType dtype, ReadOnlySpan<long> shape)
    {
        IntPtr h;
        int rc;
        fixed (byte* p = bytes)
        fixed (long* ps = shape)
            rc = NativeMethods.ts_from_data(p, bytes.Length, ps, shape.Length, (int)dtype, (int)DeviceType.CPU, -1, 0, out h);
        NativeMethods.Check(rc);
        return new Tensor(h);
    }

    /// <summary>A tensor with the shape and elements of a (multi-dimensional) .NET array; one copy.</summary>
    public static Tensor from_array(Array rawArray, ScalarType? dtype = null, Device? device = null, bool requires_grad = false)
    {
        var shape = new long[rawArray.Rank];
        for (int k = 0; k < shape.Length; k++) shape[k] = rawArray.GetLength(k);
        var et = rawArray.GetType().GetElementType()!;
        var natural = et == typeof(float) ? ScalarType.Float32 : et == typeof(double) ? ScalarType.Float64 : et == typeof(long) ? ScalarType.Int64 :
            et == typeof(int) ? ScalarType.Int32 : et == typeof(byte) ? ScalarType.Byte : et == typeof(bool) ? ScalarType.Bool :
            et == typeof(short) ? ScalarType.Int16 : et == typeof(Half) ? ScalarType.Float16 : et == typeof(BFloat16) ? ScalarType.BFloat16 :
            throw new TorchException($"from_array: unsupported element type {et.Name}");
        var bytes = MemoryMarshal.CreateReadOnlySpan(ref MemoryMarshal.GetArrayDataReference(rawArray), checked(rawArray.Length * ElementSize(natural)));
        var t = FromBytes(bytes, natural, shape);
        GC.KeepAlive(rawArray);
        if ((dtype.HasValue && dtype != natural) || (device is not null && device.type != DeviceType.CPU))
        {
            var moved = t.to(dtype ?? natural, device ?? CPU);
            t.Dispose();
            t = moved;
        }
        if (requires_grad) t.requires_grad = true;
        return t;
    }
}
