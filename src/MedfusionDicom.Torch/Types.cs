using System.Globalization;
using System.Runtime.InteropServices;
using MedfusionDicom.Torch.Native;

namespace MedfusionDicom.Torch;

/// <summary>Device kinds; the values are libtorch's (c10::DeviceType).</summary>
public enum DeviceType { CPU = 0, CUDA = 1 }

/// <summary>A number passed to an operator: integral or floating, as in Python (it decides type promotion).</summary>
public readonly struct Scalar
{
    public readonly double Value;
    public readonly bool IsIntegral;
    public Scalar(double value, bool integral) { Value = value; IsIntegral = integral; }
    public static implicit operator Scalar(double v) => new(v, false);
    public static implicit operator Scalar(float v) => new(v, false);
    public static implicit operator Scalar(Half v) => new((double)v, false);
    public static implicit operator Scalar(long v) => new(v, true);
    public static implicit operator Scalar(int v) => new(v, true);
    public static implicit operator Scalar(short v) => new(v, true);
    public static implicit operator Scalar(byte v) => new(v, true);
    public static implicit operator Scalar(bool v) => new(v ? 1 : 0, true);
    public double ToDouble() => Value;
    public long ToInt64() => (long)Value;
    public override string ToString() => IsIntegral ? ((long)Value).ToString(CultureInfo.InvariantCulture) : Value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>bfloat16: the upper 16 bits of an IEEE float32.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct BFloat16 : IEquatable<BFloat16>
{
    public readonly ushort RawValue;
    private BFloat16(ushort raw) { RawValue = raw; }
    public static BFloat16 FromRaw(ushort raw) => new(raw);
    public static explicit operator BFloat16(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f)) return new BFloat16((ushort)((bits >> 16) | 0x40));
        uint rounding = 0x7FFF + ((bits >> 16) & 1); // round to nearest even, as c10::BFloat16
        return new BFloat16((ushort)((bits + rounding) >> 16));
    }
    public static explicit operator float(BFloat16 b) => BitConverter.UInt32BitsToSingle((uint)b.RawValue << 16);
    public bool Equals(BFloat16 other) => RawValue == other.RawValue;
    public override bool Equals(object? obj) => obj is BFloat16 b && Equals(b);
    public override int GetHashCode() => RawValue;
    public override string ToString() => ((float)this).ToString(CultureInfo.InvariantCulture);
}

public static partial class torch
{
    /// <summary>Element types; the values are libtorch's (c10::ScalarType), as in TorchSharp.</summary>
    public enum ScalarType : sbyte
    {
        Byte = 0, Int8 = 1, Int16 = 2, Int32 = 3, Int64 = 4, Float16 = 5, Float32 = 6, Float64 = 7,
        ComplexFloat32 = 9, ComplexFloat64 = 10, Bool = 11, BFloat16 = 15,
    }

    public static readonly ScalarType uint8 = ScalarType.Byte, int8 = ScalarType.Int8, int16 = ScalarType.Int16,
        int32 = ScalarType.Int32, int64 = ScalarType.Int64, float16 = ScalarType.Float16, half = ScalarType.Float16,
        bfloat16 = ScalarType.BFloat16, float32 = ScalarType.Float32, float64 = ScalarType.Float64,
        @bool = ScalarType.Bool, @float = ScalarType.Float32, @double = ScalarType.Float64,
        @long = ScalarType.Int64, @int = ScalarType.Int32, @short = ScalarType.Int16;

    private static ScalarType defaultDType = ScalarType.Float32;
    public static ScalarType get_default_dtype() => defaultDType;
    public static void set_default_dtype(ScalarType dtype)
    {
        if (!is_floating_point(dtype)) throw new TorchException($"only floating-point types are supported as the default type, got {dtype}");
        defaultDType = dtype;
    }

    public static bool is_floating_point(ScalarType t) => t is ScalarType.Float16 or ScalarType.Float32 or ScalarType.Float64 or ScalarType.BFloat16;
    public static bool is_integral(ScalarType t, bool includeBool = false) =>
        t is ScalarType.Byte or ScalarType.Int8 or ScalarType.Int16 or ScalarType.Int32 or ScalarType.Int64 || (includeBool && t == ScalarType.Bool);

    internal static int ElementSize(ScalarType t) => t switch
    {
        ScalarType.Byte or ScalarType.Int8 or ScalarType.Bool => 1,
        ScalarType.Int16 or ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Int32 or ScalarType.Float32 => 4,
        ScalarType.Int64 or ScalarType.Float64 or ScalarType.ComplexFloat32 => 8,
        ScalarType.ComplexFloat64 => 16,
        _ => throw new TorchException($"unknown dtype {t}"),
    };

    /// <summary>The dtype whose elements are the .NET type T.</summary>
    internal static ScalarType ToScalarType<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? ScalarType.Float32 :
        typeof(T) == typeof(double) ? ScalarType.Float64 :
        typeof(T) == typeof(long) ? ScalarType.Int64 :
        typeof(T) == typeof(int) ? ScalarType.Int32 :
        typeof(T) == typeof(short) ? ScalarType.Int16 :
        typeof(T) == typeof(byte) ? ScalarType.Byte :
        typeof(T) == typeof(sbyte) ? ScalarType.Int8 :
        typeof(T) == typeof(bool) ? ScalarType.Bool :
        typeof(T) == typeof(Half) ? ScalarType.Float16 :
        typeof(T) == typeof(BFloat16) ? ScalarType.BFloat16 :
        throw new TorchException($"no tensor element type for {typeof(T).Name}");

    /// <summary>A device: a type and an index (-1: the current one).</summary>
    public sealed class Device : IEquatable<Device>
    {
        public DeviceType type { get; }
        public int index { get; }
        public Device(DeviceType type, int index = -1) { this.type = type; this.index = index; }
        public Device(string description)
        {
            var parts = description.Trim().ToLowerInvariant().Split(':');
            type = parts[0] switch
            {
                "cpu" => DeviceType.CPU,
                "cuda" => DeviceType.CUDA,
                _ => throw new TorchException($"Expected one of cpu, cuda device type at start of device string: {description}"),
            };
            index = parts.Length > 1 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : -1;
        }
        public bool Equals(Device? other) => other is not null && other.type == type && other.index == index;
        public override bool Equals(object? obj) => Equals(obj as Device);
        public override int GetHashCode() => HashCode.Combine(type, index);
        public override string ToString() => type == DeviceType.CPU ? "cpu" : index < 0 ? "cuda" : $"cuda:{index}";
        public static implicit operator Device(string description) => new(description);
    }

    public static readonly Device CPU = new(DeviceType.CPU);
    public static readonly Device CUDA = new(DeviceType.CUDA);
    public static Device device(string description) => new(description);
    public static Device device(DeviceType type, int index = -1) => new(type, index);

    public static partial class cuda
    {
        public static bool is_available() { NativeMethods.Check(NativeMethods.ts_cuda_info(out int a, out _)); return a != 0; }
        public static int device_count() { NativeMethods.Check(NativeMethods.ts_cuda_info(out _, out int n)); return n; }
    }

    public static void set_num_threads(int threads)
    {
        if (threads <= 0) throw new TorchException($"Number of threads must be positive, got {threads}");
        NativeMethods.Check(NativeMethods.ts_threads(threads, 0, out _, out _));
    }
    public static int get_num_threads() { NativeMethods.Check(NativeMethods.ts_threads(0, 0, out int n, out _)); return n; }
    public static void set_num_interop_threads(int threads) => NativeMethods.Check(NativeMethods.ts_threads(0, threads, out _, out _));
    public static int get_num_interop_threads() { NativeMethods.Check(NativeMethods.ts_threads(0, 0, out _, out int n)); return n; }

    /// <summary>Seeds the default generator (as torch.manual_seed) and returns it.</summary>
    public static Generator manual_seed(long seed)
    {
        NativeMethods.Check(NativeMethods.ts_manual_seed((ulong)seed));
        return Generator.Default;
    }

    /// <summary>A random number generator (CPU).</summary>
    public sealed class Generator : IDisposable
    {
        private IntPtr handle;
        private readonly bool owned;
        internal IntPtr Handle => handle;
        private Generator(IntPtr h, bool owned) { handle = h; this.owned = owned; }
        public Generator(ulong seed = 67280421310721, Device? device = null)
        {
            NativeMethods.Check(NativeMethods.ts_generator_new(seed, (int)(device?.type ?? DeviceType.CPU), out handle));
            owned = true;
        }
        private static Generator? defaultGenerator;
        public static Generator Default
        {
            get
            {
                if (defaultGenerator is null)
                {
                    NativeMethods.Check(NativeMethods.ts_generator_default(out var h));
                    defaultGenerator = new Generator(h, false);
                }
                return defaultGenerator;
            }
        }
        public Generator manual_seed(long seed) { NativeMethods.Check(NativeMethods.ts_generator_seed(handle, 1, (ulong)seed, out _)); return this; }
        public long initial_seed() { NativeMethods.Check(NativeMethods.ts_generator_seed(handle, 0, 0, out var s)); return (long)s; }
        public unsafe Tensor get_state()
        {
            IntPtr s;
            NativeMethods.Check(NativeMethods.ts_generator_state(handle, IntPtr.Zero, &s));
            return new Tensor(s);
        }
        public unsafe Generator set_state(Tensor state)
        {
            NativeMethods.Check(NativeMethods.ts_generator_state(handle, state.Handle, null));
            GC.KeepAlive(state);
            return this;
        }
        public void Dispose()
        {
            if (owned && handle != IntPtr.Zero) NativeMethods.Check(NativeMethods.ts_generator_free(handle));
            handle = IntPtr.Zero;
            GC.SuppressFinalize(this);
        }
        ~Generator() { if (owned && handle != IntPtr.Zero) NativeMethods.ts_generator_free(handle); }
    }
}
