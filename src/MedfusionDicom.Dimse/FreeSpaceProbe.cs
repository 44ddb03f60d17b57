namespace MedfusionDicom.Dimse;

/// <summary>
/// Free space on the file system of a folder, asked of the file system at most every 250 ms: DriveInfo reads the mount
/// table each time, and a store handler asks for every instance.
/// </summary>
public sealed class FreeSpaceProbe(string directory)
{
    private long _freeBytes;
    private long _checkedAt = -1_000_000; // long ago, without overflowing the subtraction

    public long FreeBytes()
    {
        var now = Environment.TickCount64;
        if (now - Volatile.Read(ref _checkedAt) > 250)
        {
            Directory.CreateDirectory(directory);
            Volatile.Write(ref _freeBytes, new DriveInfo(directory).AvailableFreeSpace);
            Volatile.Write(ref _checkedAt, now);
        }

        return Volatile.Read(ref _freeBytes);
    }
}
