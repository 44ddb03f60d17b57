using System.Runtime.InteropServices;

namespace MedfusionDicom.Torch.Native;

/// <summary>The C ABI of native/torch-shim. Every call returns 0 on success, 1 on failure (see ts_last_error).</summary>
internal static unsafe partial class NativeMethods
{
    private const string Lib = "torchshim";

    [DllImport(Lib)] internal static extern IntPtr ts_last_error();
    [DllImport(Lib)] internal static extern int ts_free(IntPtr t);
    [DllImport(Lib)] internal static extern int ts_alias(IntPtr t, out IntPtr result);
    [DllImport(Lib)] internal static extern int ts_meta(IntPtr t, long* meta, long* shape, int cap);
    [DllImport(Lib)] internal static extern int ts_new(int kind, long* shape, int nshape, int dtype, int devtype, int devidx, int requires_grad, double* a, int na, IntPtr gen, out IntPtr result);
    [DllImport(Lib)] internal static extern int ts_from_data(void* data, long nbytes, long* shape, int nshape, int dtype, int devtype, int devidx, int requires_grad, out IntPtr result);
    [DllImport(Lib)] internal static extern int ts_copy_out(IntPtr t, int dtype, void* dst, long nbytes);
    [DllImport(Lib)] internal static extern int ts_data_ptr(IntPtr t, int dtype, out IntPtr result);
    [DllImport(Lib)] internal static extern int ts_item(IntPtr t, out double d, out long i);
    [DllImport(Lib)] internal static extern int ts_backward(IntPtr t, IntPtr grad, int retain_graph, int create_graph);
    [DllImport(Lib)] internal static extern int ts_grad(IntPtr t, out IntPtr result);
    [DllImport(Lib)] internal static extern int ts_set_grad(IntPtr t, IntPtr grad);
    [DllImport(Lib)] internal static extern int ts_set_requires_grad(IntPtr t, int on);
    [DllImport(Lib)] internal static extern int ts_grad_mode(int set, out int previous);
    [DllImport(Lib)] internal static extern int ts_threads(int intra, int interop, out int intraNow, out int interopNow);
    [DllImport(Lib)] internal static extern int ts_manual_seed(ulong seed);
    [DllImport(Lib)] internal static extern int ts_generator_new(ulong seed, int devtype, out IntPtr result);
    [DllImport(Lib)] internal static extern int ts_generator_default(out IntPtr result);
    [DllImport(Lib)] internal static extern int ts_generator_free(IntPtr g);
    [DllImport(Lib)] internal static extern int ts_generator_seed(IntPtr g, int set, ulong seed, out ulong current);
    [DllImport(Lib)] internal static extern int ts_generator_state(IntPtr g, IntPtr stateIn, IntPtr* stateOut);
    [DllImport(Lib)] internal static extern int ts_cuda_info(out int available, out int count);
    [DllImport(Lib)] internal static extern int ts_optim_new(int kind, IntPtr* parameters, int n, double* hp, out IntPtr result);
    [DllImport(Lib)] internal static extern int ts_optim_step(IntPtr o);
    [DllImport(Lib)] internal static extern int ts_optim_zero_grad(IntPtr o, int setToNone);
    [DllImport(Lib)] internal static extern int ts_optim_lr(IntPtr o, double lr, out double current);
    [DllImport(Lib)] internal static extern int ts_optim_free(IntPtr o);
    [DllImport(Lib)] internal static extern int ts_clip_grad_norm(IntPtr* parameters, int n, double maxNorm, double normType, out double total);
    [DllImport(Lib)] internal static extern int ts_op(int op, IntPtr* t, int nt, long* i, int ni, double* d, int nd, long mask, IntPtr gen, out IntPtr result);
    [DllImport(Lib)] internal static extern int ts_op_multi(int op, IntPtr* t, int nt, long* i, int ni, double* d, int nd, long mask, IntPtr* outs, int cap, out int n);

    /// <summary>Throws the shim's last error as a <see cref="TorchException"/> when rc is not 0.</summary>
    internal static void Check(int rc)
    {
        if (rc != 0) throw new TorchException(Marshal.PtrToStringUTF8(ts_last_error()) ?? "unknown libtorch error");
    }
}
