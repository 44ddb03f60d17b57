using System.Reflection;
using System.Runtime.InteropServices;

namespace MedfusionDicom.Dicom.Codecs;

/// <summary>
/// gdcm-sharp P/Invokes "gdcmsharpglue", which Debian installs beside the managed DLL in /usr/lib/cli/gdcm-sharp-3.0,
/// a directory the loader does not search. A DllImport resolver finds it there (or next to our own assembly), so no
/// process has to set LD_LIBRARY_PATH.
/// </summary>
public static class GdcmNative
{
    public const string DefaultDirectory = "/usr/lib/cli/gdcm-sharp-3.0";
    private const string GlueName = "gdcmsharpglue";
    private const string GlueFile = "libgdcmsharpglue.so";
    private static readonly Lock Gate = new();
    private static bool _installed;

    /// <summary>Installs the resolver once per process; safe to call from every entry point.</summary>
    public static void EnsureResolver()
    {
        lock (Gate)
        {
            if (_installed) return;
            NativeLibrary.SetDllImportResolver(typeof(gdcm.Reader).Assembly, Resolve);
            _installed = true;
        }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != GlueName && name != GlueFile) return IntPtr.Zero;
        foreach (var dir in Candidates())
        {
            var path = Path.Combine(dir, GlueFile);
            if (File.Exists(path) && NativeLibrary.TryLoad(path, out var handle)) return handle;
        }
        return NativeLibrary.TryLoad(GlueFile, assembly, searchPath, out var fallback) ? fallback : IntPtr.Zero;
    }

    private static IEnumerable<string> Candidates()
    {
        if (Environment.GetEnvironmentVariable("MEDFUSION_GDCM_SHARP_DIR") is { Length: > 0 } overridden) yield return overridden;
        yield return AppContext.BaseDirectory;
        yield return DefaultDirectory;
    }
}
