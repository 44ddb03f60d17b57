using System.Collections;
using System.Globalization;
using System.Runtime.InteropServices;
using MedfusionDicom.Torch.Native;
using MedfusionDicom.Torch.Utils;

namespace MedfusionDicom.Torch;

public static partial class torch
{
    /// <summary>
    /// A libtorch tensor. Owns one native handle (a SafeHandle: freed on Dispose, by its dispose scope, or at
    /// the latest by the finalizer).
    /// </summary>
    public partial class Tensor : IDisposable
    {
        private readonly TensorHandle handle;
        internal DisposeScope? OwningDisposeScope { get; set; }

        internal Tensor(IntPtr h, bool registerInScope = true)
        {
            if (h == IntPtr.Zero) throw new TorchException("libtorch returned an undefined tensor");
            handle = new TensorHandle(h);
            if (registerInScope) DisposeScope.Register(this);
        }

        internal IntPtr Handle
        {
            get
            {
                if (handle.IsClosed) throw new ObjectDisposedException(nameof(Tensor), "the tensor has been disposed");
                return handle.DangerousGetHandle();
            }
        }

        public bool IsInvalid => handle.IsClosed || handle.IsInvalid;

        public void Dispose()
        {
            Dispose(true);
            GC.SuppressFinalize(this);
        }

        protected virtual void Dispose(bool disposing)
        {
            OwningDisposeScope?.Forget(this);
            OwningDisposeScope = null;
            handle.Dispose();
        }

        // ---- dispose scopes ----
        public Tensor MoveToOuterDisposeScope() => OwningDisposeScope is { } s ? s.MoveToOuter(this) : this;
        public Tensor MoveToOtherDisposeScope(DisposeScope other) => OwningDisposeScope is { } s ? s.MoveToOther(this, other) : other.Include(this);
        public Tensor DetachFromDisposeScope() => OwningDisposeScope is { } s ? s.Detach(this) : this;

        // ---- metadata ----
        private unsafe (long[] shape, long[] meta) Meta()
        {
            long* meta = stackalloc long[9];
            long* dims = stackalloc long[64];
            NativeMethods.Check(NativeMethods.ts_meta(Handle, meta, dims, 64));
            GC.KeepAlive(this);
            var shape = new long[meta[0]];
            for (int k = 0; k < shape.Length; k++) shape[k] = dims[k];
            return (shape, new ReadOnlySpan<long>(meta, 9).ToArray());
        }

        public long[] shape => Meta().shape;
        public long[] size() => shape;
        public long size(int dim) { var s = shape; return s[dim < 0 ? dim + s.Length : dim]; }
        public long dim() => Meta().meta[0];
        public long ndim => dim();
        public long Dimensions => dim();
        public ScalarType dtype => (ScalarType)Meta().meta[1];
        public DeviceType device_type => (DeviceType)Meta().meta[2];
        public int device_index => (int)Meta().meta[3];
        public Device device { get { var m = Meta().meta; return new Device((DeviceType)m[2], (int)m[3]); } }
        public long numel() => Meta().meta[5];
        public long NumberOfElements => numel();
        public bool is_leaf => Meta().meta[6] != 0;
        public bool is_contiguous() => Meta().meta[8] != 0;
        public long element_size() => ElementSize(dtype);
        public bool is_floating_point() => torch.is_floating_point(dtype);

        public override string ToString()
        {
            var (s, m) = Meta();
            var dev = new Device((DeviceType)m[2], (int)m[3]);
            return $"[{string.Join("x", s)}], type = {(ScalarType)m[1]}, device = {dev}";
        }

        // ---- autograd ----
        public bool requires_grad
        {
            get => Meta().meta[4] != 0;
            set { NativeMethods.Check(NativeMethods.ts_set_requires_grad(Handle, value ? 1 : 0)); GC.KeepAlive(this); }
        }

        public Tensor requires_grad_(bool requires_grad = true) { this.requires_grad = requires_grad; return this; }

        /// <summary>The accumulated gradient (null when none), a new handle each time, as in TorchSharp 0.105.</summary>
        public Tensor? grad
        {
            get
            {
                NativeMethods.Check(NativeMethods.ts_grad(Handle, out var g));
                GC.KeepAlive(this);
                return g == IntPtr.Zero ? null : new Tensor(g);
            }
            set
            {
                NativeMethods.Check(NativeMethods.ts_set_grad(Handle, value?.Handle ?? IntPtr.Zero));
                GC.KeepAlive(this);
                GC.KeepAlive(value);
            }
        }

        public void backward(Tensor? grad_tensors = null, bool retain_graph = false, bool create_graph = false)
        {
            NativeMethods.Check(NativeMethods.ts_backward(Handle, grad_tensors?.Handle ?? IntPtr.Zero, retain_graph ? 1 : 0, create_graph ? 1 : 0));
            GC.KeepAlive(this);
            GC.KeepAlive(grad_tensors);
        }

        /// <summary>Zeroes (or drops) the accumulated gradient of this tensor.</summary>
        public void zero_grad(bool set_to_none = true)
        {
            if (set_to_none) { grad = null; return; }
            using var g = grad;
            if (g is not null) { using (no_grad()) g.detach_().zero_(); }
        }

        // ---- data ----
        /// <summary>The elements; T must be the tensor's element type. Reads the tensor's memory in place when it
        /// is a contiguous CPU tensor, otherwise a contiguous CPU copy.</summary>
        public TensorAccessor<T> data<T>() where T : unmanaged
        {
            var want = ToScalarType<T>();
            if (device_type == DeviceType.CPU)
            {
                NativeMethods.Check(NativeMethods.ts_data_ptr(Handle, (int)want, out var p)); // libtorch's dtype check
                GC.KeepAlive(this);
                if (p != IntPtr.Zero) return new TensorAccessor<T>(this, p, numel(), false);
            }
            else if (dtype != want) throw new TorchException($"expected scalar type {want} but found {dtype}");
            using var cpu = Call.Run(Op.To, [this], [-1, (long)DeviceType.CPU, -1, 0, 0]);
            var copy = Call.Run(Op.Contiguous, [cpu]).DetachFromDisposeScope();
            NativeMethods.Check(NativeMethods.ts_data_ptr(copy.Handle, (int)want, out var q));
            return new TensorAccessor<T>(copy, q, copy.numel(), true);
        }

        /// <summary>The value of a one-element tensor, converted to T.</summary>
        public T item<T>() where T : unmanaged
        {
            NativeMethods.Check(NativeMethods.ts_item(Handle, out double d, out long i));
            GC.KeepAlive(this);
            var dt = dtype;
            object v = typeof(T) == typeof(float) ? (float)d : typeof(T) == typeof(double) ? d :
                typeof(T) == typeof(long) ? i : typeof(T) == typeof(int) ? (int)i : typeof(T) == typeof(short) ? (short)i :
                typeof(T) == typeof(byte) ? (byte)i : typeof(T) == typeof(sbyte) ? (sbyte)i : typeof(T) == typeof(bool) ? i != 0 || d != 0 :
                typeof(T) == typeof(Half) ? (Half)d : typeof(T) == typeof(BFloat16) ? (BFloat16)(float)d :
                throw new TorchException($"item<{typeof(T).Name}>: unsupported type (tensor is {dt})");
            return (T)v;
        }

        /// <summary>Copies the elements, converted to T's dtype, into a new array (C order).</summary>
        public unsafe T[] ToArray<T>() where T : unmanaged
        {
            var result = new T[numel()];
            fixed (T* p = result)
                NativeMethods.Check(NativeMethods.ts_copy_out(Handle, (int)ToScalarType<T>(), p, (long)result.Length * sizeof(T)));
            GC.KeepAlive(this);
            return result;
        }

        /// <summary>Copies raw bytes of the tensor (its own dtype, C order) into dst.</summary>
        internal unsafe void CopyBytesTo(Span<byte> dst)
        {
            fixed (byte* p = dst)
                NativeMethods.Check(NativeMethods.ts_copy_out(Handle, -1, p, dst.Length));
            GC.KeepAlive(this);
        }

        /// <summary>A second tensor object on the same storage and autograd identity (not a copy).</summary>
        internal IntPtr NewAlias()
        {
            NativeMethods.Check(NativeMethods.ts_alias(Handle, out var h));
            GC.KeepAlive(this);
            return h;
        }
    }
}
