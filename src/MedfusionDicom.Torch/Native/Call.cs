using System.Runtime.InteropServices;
using static MedfusionDicom.Torch.torch;

namespace MedfusionDicom.Torch.Native;

/// <summary>SafeHandle over a shim tensor handle: the native tensor is freed exactly once.</summary>
internal sealed class TensorHandle : SafeHandle
{
    public TensorHandle(IntPtr h) : base(IntPtr.Zero, true) => SetHandle(h);
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle() => NativeMethods.ts_free(handle) == 0;
}

/// <summary>Calls into the shim's two operator entry points.</summary>
internal static unsafe class Call
{
    internal const long NoneIndex = long.MinValue;

    /// <summary>Bit mask marking which scalar arguments are integral (Python int rather than float).</summary>
    internal static long Mask(Scalar a) => a.IsIntegral ? 1 : 0;
    internal static long Mask(Scalar a, Scalar b) => (a.IsIntegral ? 1 : 0) | (b.IsIntegral ? 2 : 0);

    private static IntPtr Invoke(int op, ReadOnlySpan<Tensor?> t, ReadOnlySpan<long> i, ReadOnlySpan<double> d, long mask, Generator? g)
    {
        IntPtr* h = stackalloc IntPtr[Math.Max(t.Length, 1)];
        for (int k = 0; k < t.Length; k++) h[k] = t[k] is { } x ? x.Handle : IntPtr.Zero;
        IntPtr result;
        int rc;
        fixed (long* pi = i)
        fixed (double* pd = d)
            rc = NativeMethods.ts_op(op, h, t.Length, pi, i.Length, pd, d.Length, mask, g?.Handle ?? IntPtr.Zero, out result);
        foreach (var x in t) GC.KeepAlive(x);
        GC.KeepAlive(g);
        NativeMethods.Check(rc);
        return result;
    }

    internal static Tensor Run(Op op, ReadOnlySpan<Tensor?> t, ReadOnlySpan<long> i = default, ReadOnlySpan<double> d = default, long mask = 0, Generator? g = null)
        => new(Invoke((int)op, t, i, d, mask, g));

    /// <summary>Runs the in-place form of op on t[0]; returns t[0].</summary>
    internal static Tensor InPlace(Op op, ReadOnlySpan<Tensor?> t, ReadOnlySpan<long> i = default, ReadOnlySpan<double> d = default, long mask = 0, Generator? g = null)
    {
        Invoke((int)op + (int)Op.InPlace, t, i, d, mask, g);
        return t[0]!;
    }

    internal static Tensor[] Multi(Op op, ReadOnlySpan<Tensor?> t, ReadOnlySpan<long> i, int capacity)
    {
        IntPtr* h = stackalloc IntPtr[Math.Max(t.Length, 1)];
        for (int k = 0; k < t.Length; k++) h[k] = t[k] is { } x ? x.Handle : IntPtr.Zero;
        var outs = new IntPtr[Math.Max(capacity, 1)];
        int rc, n;
        fixed (long* pi = i)
        fixed (IntPtr* po = outs)
            rc = NativeMethods.ts_op_multi((int)op, h, t.Length, pi, i.Length, null, 0, 0, po, outs.Length, out n);
        foreach (var x in t) GC.KeepAlive(x);
        NativeMethods.Check(rc);
        var result = new Tensor[n];
        for (int k = 0; k < n; k++) result[k] = new Tensor(outs[k]);
        return result;
    }

    /// <summary>Reduction arguments: {keepdim, dtype or -1, unbiased, dims...}.</summary>
    internal static long[] ReduceArgs(ReadOnlySpan<long> dims, bool keepdim, ScalarType? dtype, bool unbiased = true)
    {
        var a = new long[3 + dims.Length];
        a[0] = keepdim ? 1 : 0;
        a[1] = dtype.HasValue ? (long)dtype.Value : -1;
        a[2] = unbiased ? 1 : 0;
        dims.CopyTo(a.AsSpan(3));
        return a;
    }
}
