using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace MedfusionDicom.Dimse;

/// <summary>The POSIX durability calls .NET does not expose: fdatasync, fsync of a directory, syncfs.</summary>
internal static partial class NativeFile
{
    /// <summary>fdatasync where there is one: unlike fsync it skips timestamps, which a reader does not need.</summary>
    public static void DataSync(SafeFileHandle handle, string what)
    {
        if (!OperatingSystem.IsLinux())
        {
            Sync(handle, what);
            return;
        }
        if (Fdatasync(Fd(handle)) != 0) throw new IOException($"fdatasync of {what} failed (errno {Marshal.GetLastPInvokeError()})");
    }

    public static void Sync(SafeFileHandle handle, string what)
    {
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("fsync of a raw file handle is POSIX only");
        if (Fsync(Fd(handle)) != 0) throw new IOException($"fsync of {what} failed (errno {Marshal.GetLastPInvokeError()})");
    }

    /// <summary>Makes a rename durable: on POSIX the new directory entry is only safe once the directory is fsynced.</summary>
    public static void SyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows()) return;
        WithDirectory(directory, Fsync, "fsync");
    }

    /// <summary>Flushes everything dirty on the file system holding <paramref name="directory"/> (Linux).</summary>
    public static void SyncFileSystem(string directory) => WithDirectory(directory, Syncfs, "syncfs");

    private static void WithDirectory(string directory, Func<int, int> call, string what)
    {
        var fd = Open(directory, 0);
        if (fd < 0) throw new IOException($"cannot open {directory} for {what} (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (call(fd) != 0) throw new IOException($"{what} of {directory} failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            _ = Close(fd);
        }
    }

    private static int Fd(SafeFileHandle handle) => (int)handle.DangerousGetHandle();

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int Fdatasync(int fd);

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    private static partial int Syncfs(int fd);
}
