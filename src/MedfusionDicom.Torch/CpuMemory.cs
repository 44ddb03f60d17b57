using System.Runtime.InteropServices;

namespace MedfusionDicom.Torch;

/// <summary>
/// How glibc's malloc hands libtorch's CPU activations back. By default a block of 128 KiB or more is mmapped and
/// unmapped on free, and a free top of the heap is trimmed, so every sampling step maps its activations afresh and
/// page-faults them in again (4.9 M page faults in the worker benchmark, a quarter of the batched throughput). With
/// <see cref="KeepFreedMemory"/> large blocks come from the heap and stay there for the next step: the effect of the
/// caching allocator our old binding had, without one. It is what
/// <c>GLIBC_TUNABLES=glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=1073741824</c> does at process
/// start, set through mallopt(3) so that every host (worker, CLI, tests) gets it without a launcher.
/// </summary>
public static partial class CpuMemory
{
    private const int MTrimThreshold = -1, MMmapThreshold = -3;

    /// <summary>Blocks below this come from the heap, not from mmap (glibc's maximum: 32 MiB on 64-bit).</summary>
    public const int MmapThresholdBytes = 32 << 20;

    /// <summary>Free memory at the top of the heap up to this is kept for reuse instead of returned to the kernel.</summary>
    public const int TrimThresholdBytes = 1 << 30;

    /// <summary>Applies the settings above; false where the C library is not glibc (nothing changes then).</summary>
    public static bool KeepFreedMemory() => Set(MmapThresholdBytes, TrimThresholdBytes);

    /// <summary>glibc's defaults (128 KiB for both; the dynamic threshold starts over), for measurements.</summary>
    public static bool Restore() => Set(128 << 10, 128 << 10);

    private static bool Set(int mmapThreshold, int trimThreshold)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return mallopt(MMmapThreshold, mmapThreshold) == 1 && mallopt(MTrimThreshold, trimThreshold) == 1;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int param, int value);
}
