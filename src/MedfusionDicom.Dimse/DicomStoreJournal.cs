using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace MedfusionDicom.Dimse;

/// <summary>
/// A write-ahead journal that lets the SCP acknowledge small instances durably without an fdatasync of each new file.
/// </summary>
/// <remarks>
/// <para>
/// Making a new file durable costs a file-system journal commit (the new blocks and the file size are metadata):
/// about 0.3 ms on ext4 here, for each instance, while the sender waits. Overwriting blocks of a file that is already
/// allocated and synced needs only the data flushed: about 0.1 ms. So the complete Part 10 bytes of an instance are
/// appended to a preallocated segment file and that is synced (concurrent associations share one sync); then the
/// instance file is written and renamed into place without a sync, and the instance is acknowledged.
/// </para>
/// <para>
/// In the background, once a segment fills up or the journal is idle, a checkpoint syncs the file systems of the
/// instances it holds (syncfs) and recycles the segment under a new epoch. At start-up, before the first association,
/// <see cref="Open"/> replays what was not checkpointed: every journaled instance whose file is missing or differs is
/// written again. Records carry a CRC-32 and the epoch of their segment, so a torn or stale record is never replayed,
/// and a record is only ever torn if its instance was not yet acknowledged.
/// </para>
/// <para>
/// Two segments alternate, so appends continue into one while the other is checkpointed. Instances larger than a
/// quarter of a segment are synced in place as before; if the journal still holds an older copy of the same path,
/// a tombstone record tells the replay to leave the newer file alone.
/// </para>
/// </remarks>
public sealed class DicomStoreJournal : IAsyncDisposable
{
    public const int DefaultSegmentBytes = 16 << 20;
    private const uint SegmentMagic = 0x4A53464D; // "MFSJ"
    private const uint RecordMagic = 0x524A464D;  // "MFJR"
    private const int SegmentHeaderBytes = 16;    // magic, epoch, reserved
    private const int RecordHeaderBytes = 24;     // magic, epoch, kind, path length, data length, CRC-32
    private const int MaxPathBytes = 4096;
    private const uint KindData = 1, KindTombstone = 2;

    private readonly Settings _settings;
    private readonly Segment[] _segments;
    private readonly object _lock = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _checkpointer;
    private int _active;
    private uint _nextEpoch;
    private long _lastAppend;
    private Exception? _failure;

    private DicomStoreJournal(Settings settings, Segment[] segments, uint nextEpoch, int recovered)
    {
        _settings = settings;
        _segments = segments;
        _nextEpoch = nextEpoch;
        Recovered = recovered;
        _checkpointer = Task.Run(CheckpointLoopAsync);
    }

    /// <summary>Instance files written again from the journal when it was opened (after a crash or power loss).</summary>
    public int Recovered { get; }

    /// <summary>
    /// Every instance file the journal held when it was opened: acknowledged since the last checkpoint, so what the
    /// store handler recorded of them (an index row written without a sync of its own) may not have reached the disk
    /// before a power loss; the application makes sure it has them.
    /// </summary>
    public IReadOnlyList<string> JournaledPaths { get; private init; } = [];

    /// <summary>The largest instance (whole Part 10 file) that goes through the journal.</summary>
    public int MaxInstanceBytes => _settings.SegmentBytes / 4;

    /// <summary>Whether the journal works on this system: it needs Linux's syncfs.</summary>
    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>
    /// Opens (or creates) the journal in <paramref name="directory"/>, which must be on durable storage: replays what
    /// an earlier run acknowledged but had not checkpointed, then starts empty.
    /// </summary>
    public static DicomStoreJournal Open(string directory, int segmentBytes = DefaultSegmentBytes, TimeSpan? idleCheckpoint = null, ILogger? logger = null)
    {
        if (!IsSupported) throw new PlatformNotSupportedException("the store journal needs Linux (syncfs)");
        if (segmentBytes < 64 * 1024) throw new ArgumentOutOfRangeException(nameof(segmentBytes), "a journal segment must be at least 64 KiB");
        logger ??= NullLogger.Instance;
        directory = Path.GetFullPath(directory);
        Directory.CreateDirectory(directory);

        var records = new List<(uint Epoch, long Offset, uint Kind, string Path, ReadOnlyMemory<byte> Data)>();
        uint maxEpoch = 0;
        for (var i = 0; i < 2; i++)
        {
            var path = SegmentPath(directory, i);
            if (!File.Exists(path)) continue;
            var bytes = File.ReadAllBytes(path);
            var epoch = ReadSegmentEpoch(bytes);
            if (epoch is null) continue;
            maxEpoch = Math.Max(maxEpoch, epoch.Value);
            foreach (var r in ReadRecords(bytes, epoch.Value)) records.Add((epoch.Value, r.Offset, r.Kind, r.Path, r.Data));
        }
        var recovered = Replay(records.OrderBy(r => r.Epoch).ThenBy(r => r.Offset).Select(r => (r.Kind, r.Path, r.Data)), logger);
        var journaled = records.Where(r => r.Kind == KindData).Select(r => r.Path).Distinct(StringComparer.Ordinal).ToList();

        var segments = new Segment[2];
        var nextEpoch = maxEpoch + 1;
        for (var i = 0; i < 2; i++)
        {
            var path = SegmentPath(directory, i);
            var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            try
            {
                if (RandomAccess.GetLength(handle) != segmentBytes) Preallocate(handle, segmentBytes);
                var segment = new Segment(handle, nextEpoch++);
                WriteSegmentHeader(segment);
                segments[i] = segment;
            }
            catch
            {
                handle.Dispose();
                if (i == 1) segments[0].Handle.Dispose();
                throw;
            }
        }
        SyncDirectory(directory);
        Log.JournalOpened(logger, directory, segmentBytes, recovered);
        return new DicomStoreJournal(new Settings(directory, segmentBytes, idleCheckpoint ?? TimeSpan.FromSeconds(1), logger), segments, nextEpoch, recovered) { JournaledPaths = journaled };
    }

    /// <summary>
    /// Appends the complete file for <paramref name="finalPath"/> and returns once it is durable in the journal. The
    /// caller then writes and renames the file, and calls <see cref="Completed"/> (also when that fails).
    /// </summary>
    internal Ticket Append(string finalPath, ReadOnlyMemory<byte> fileBytes) => Write(KindData, finalPath, fileBytes);

    /// <summary>
    /// Records that <paramref name="finalPath"/> was made durable outside the journal, so that an older journaled copy
    /// is not replayed over it. Does nothing when the journal holds no copy of that path.
    /// </summary>
    internal void Supersede(string finalPath)
    {
        var fullPath = Path.GetFullPath(finalPath);
        lock (_lock)
        {
            if (!_segments.Any(s => s.Paths.Contains(fullPath))) return;
        }
        Completed(Write(KindTombstone, finalPath, ReadOnlyMemory<byte>.Empty));
    }

    /// <summary>The instance file of <paramref name="ticket"/> is in place (or will not be): its segment may be checkpointed.</summary>
    internal void Completed(Ticket ticket)
    {
        lock (_lock)
        {
            ticket.Segment.InFlight--;
            if (ticket.Segment.Sealed && ticket.Segment.InFlight == 0) _wake.Release();
        }
    }

    private Ticket Write(uint kind, string finalPath, ReadOnlyMemory<byte> data)
    {
        var fullPath = Path.GetFullPath(finalPath);
        var path = Encoding.UTF8.GetBytes(fullPath);
        if (path.Length > MaxPathBytes) throw new ArgumentException($"path too long for the store journal: {finalPath}", nameof(finalPath));
        var length = RecordHeaderBytes + path.Length + data.Length;
        if (length > _settings.SegmentBytes - SegmentHeaderBytes) throw new ArgumentException($"{data.Length} bytes do not fit a journal segment of {_settings.SegmentBytes}", nameof(data));
        var header = new byte[RecordHeaderBytes];
        Segment segment;
        long end;
        lock (_lock)
        {
            if (_failure is not null) throw new IOException("the store journal failed earlier: " + _failure.Message, _failure);
            while (true)
            {
                segment = _segments[_active];
                if (segment.End + length <= _settings.SegmentBytes) break;
                var other = _segments[1 - _active];
                if (other.Sealed)
                {
                    // Both full: the other's checkpoint is still running. Appends wait for it (a full segment is thousands
                    // of instances), then look again: another append may have switched segments meanwhile, and acting
                    // on what was seen before the wait would switch back to the full one.
                    Monitor.Wait(_lock);
                    if (_failure is not null) throw new IOException("the store journal failed: " + _failure.Message, _failure);
                    continue;
                }
                segment.Sealed = true;
                _active = 1 - _active;
                if (segment.InFlight == 0) _wake.Release();
                segment = other;
                break;
            }
            FillRecordHeader(header, segment.Epoch, kind, path, data.Span);
            // Written under the lock so that records land in offset order: the replay stops at the first invalid record,
            // so no record may be synced while one before it is still unwritten.
            RandomAccess.Write(segment.Handle, new ReadOnlyMemory<byte>[] { header, path, data }, segment.End);
            segment.End += length;
            segment.InFlight++;
            segment.Records++;
            segment.Paths.Add(fullPath);
            segment.Directories.Add(Path.GetDirectoryName(fullPath)!);
            end = segment.End;
            _lastAppend = Environment.TickCount64;
        }
        var ticket = new Ticket(segment);
        try
        {
            SyncTo(segment, end);
        }
        catch
        {
            Completed(ticket);
            throw;
        }
        return ticket;
    }

    /// <summary>Group commit: one fdatasync covers every record written before it started.</summary>
    private void SyncTo(Segment segment, long end)
    {
        lock (segment.SyncLock)
        {
            if (segment.SyncedEnd >= end) return;
            long target;
            lock (_lock) target = segment.End;
            DataSync(segment.Handle);
            segment.SyncedEnd = target;
        }
    }

    private async Task CheckpointLoopAsync()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await _wake.WaitAsync(_settings.IdleCheckpoint, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            try
            {
                while (NextToCheckpoint() is { } segment) Checkpoint(segment);
            }
            catch (Exception ex)
            {
                Log.JournalFailed(_settings.Logger, ex, _settings.Directory);
                lock (_lock)
                {
                    _failure = ex;
                    Monitor.PulseAll(_lock);
                }
                return;
            }
        }
    }

    /// <summary>A sealed segment whose instances are all in place; or, when the journal has been idle, the active one.</summary>
    private Segment? NextToCheckpoint()
    {
        lock (_lock)
        {
            foreach (var s in _segments)
                if (s.Sealed && s.InFlight == 0) return s;
            var active = _segments[_active];
            var other = _segments[1 - _active];
            if (active.Records > 0 && !other.Sealed && Environment.TickCount64 - _lastAppend >= _settings.IdleCheckpoint.TotalMilliseconds)
            {
                active.Sealed = true;
                _active = 1 - _active;
                if (active.InFlight == 0) return active;
            }
            return null;
        }
    }

    private void Checkpoint(Segment segment)
    {
        string[] directories;
        lock (_lock) directories = [.. segment.Directories];
        // Every instance file of the segment was renamed into place before InFlight reached 0; syncfs makes the data,
        // the sizes and the names durable in one journal commit per file system.
        foreach (var directory in directories.Where(Directory.Exists)) SyncFileSystem(directory);
        uint epoch;
        lock (_lock) epoch = _nextEpoch++;
        lock (segment.SyncLock)
        {
            segment.Epoch = epoch;
            WriteSegmentHeader(segment);
        }
        lock (_lock)
        {
            segment.End = segment.SyncedEnd = SegmentHeaderBytes;
            segment.Records = 0;
            segment.Paths.Clear();
            segment.Directories.Clear();
            segment.Sealed = false;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>Checkpoints everything journaled so far (waits for instances still being renamed).</summary>
    public async Task CheckpointAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            lock (_lock)
            {
                if (_failure is not null) throw new IOException("the store journal failed: " + _failure.Message, _failure);
                if (_segments.All(s => s.Records == 0 && !s.Sealed)) return;
                var active = _segments[_active];
                var other = _segments[1 - _active];
                if (active.Records > 0 && !other.Sealed)
                {
                    active.Sealed = true;
                    _active = 1 - _active;
                }
            }
            _wake.Release();
            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_checkpointer.IsCompleted) await CheckpointAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // Already logged; what is not checkpointed is replayed at the next start.
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        await _checkpointer.ConfigureAwait(false);
        foreach (var s in _segments) s.Handle.Dispose();
        _stop.Dispose();
        _wake.Dispose();
    }

    /// <summary>Closes the files as a crash would: nothing is checkpointed (for tests of the replay).</summary>
    internal async ValueTask AbandonAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _checkpointer.ConfigureAwait(false);
        foreach (var s in _segments) s.Handle.Dispose();
    }

    private static int Replay(IEnumerable<(uint Kind, string Path, ReadOnlyMemory<byte> Data)> records, ILogger logger)
    {
        var latest = new Dictionary<string, ReadOnlyMemory<byte>?>(StringComparer.Ordinal);
        foreach (var r in records) latest[r.Path] = r.Kind == KindData ? r.Data : (ReadOnlyMemory<byte>?)null; // null: a tombstone
        var restored = 0;
        var directories = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (path, data) in latest)
        {
            if (data is not { } bytes || SameContent(path, bytes.Span)) continue;
            var directory = Path.GetDirectoryName(path)!;
            Directory.CreateDirectory(directory);
            var temp = Path.Combine(directory, "." + Path.GetFileName(path) + ".replay");
            using (var handle = File.OpenHandle(temp, FileMode.Create, FileAccess.Write))
            {
                RandomAccess.Write(handle, bytes.Span, 0);
                DataSync(handle);
            }
            File.Move(temp, path, overwrite: true);
            directories.Add(directory);
            Log.JournalReplayed(logger, path, bytes.Length);
            restored++;
        }
        foreach (var d in directories) SyncDirectory(d);
        return restored;
    }

    private static bool SameContent(string path, ReadOnlySpan<byte> expected)
    {
        try
        {
            var info = new FileInfo(path);
            return info.Exists && info.Length == expected.Length && File.ReadAllBytes(path).AsSpan().SequenceEqual(expected);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static uint? ReadSegmentEpoch(ReadOnlySpan<byte> segment) =>
        segment.Length >= SegmentHeaderBytes && BinaryPrimitives.ReadUInt32LittleEndian(segment) == SegmentMagic
            ? BinaryPrimitives.ReadUInt32LittleEndian(segment[4..])
            : null;

    private static IEnumerable<(long Offset, uint Kind, string Path, ReadOnlyMemory<byte> Data)> ReadRecords(byte[] segment, uint epoch)
    {
        long offset = SegmentHeaderBytes;
        while (offset + RecordHeaderBytes <= segment.Length)
        {
            var header = segment.AsSpan((int)offset, RecordHeaderBytes);
            var kind = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
            var pathLength = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
            var dataLength = BinaryPrimitives.ReadUInt32LittleEndian(header[16..]);
            if (BinaryPrimitives.ReadUInt32LittleEndian(header) != RecordMagic || BinaryPrimitives.ReadUInt32LittleEndian(header[4..]) != epoch
                || kind is not (KindData or KindTombstone) || pathLength is 0 or > MaxPathBytes
                || dataLength > segment.Length - offset - RecordHeaderBytes - pathLength)
                yield break;
            var path = segment.AsMemory((int)offset + RecordHeaderBytes, (int)pathLength);
            var data = segment.AsMemory((int)(offset + RecordHeaderBytes + pathLength), (int)dataLength);
            if (Checksum(header[..20], path.Span, data.Span) != BinaryPrimitives.ReadUInt32LittleEndian(header[20..])) yield break;
            yield return (offset, kind, Encoding.UTF8.GetString(path.Span), data);
            offset += RecordHeaderBytes + pathLength + dataLength;
        }
    }

    private static void FillRecordHeader(Span<byte> header, uint epoch, uint kind, ReadOnlySpan<byte> path, ReadOnlySpan<byte> data)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(header, RecordMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], epoch);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], kind);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], (uint)path.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], (uint)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], Checksum(header[..20], path, data));
    }

    private static uint Checksum(ReadOnlySpan<byte> header, ReadOnlySpan<byte> path, ReadOnlySpan<byte> data)
    {
        var crc = new Crc32();
        crc.Append(header);
        crc.Append(path);
        crc.Append(data);
        return crc.GetCurrentHashAsUInt32();
    }

    private static void WriteSegmentHeader(Segment segment)
    {
        var header = new byte[SegmentHeaderBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(header, SegmentMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), segment.Epoch);
        RandomAccess.Write(segment.Handle, header, 0);
        DataSync(segment.Handle);
    }

    /// <summary>Writes zeros over the whole segment once and syncs it, so that later overwrites change no metadata.</summary>
    private static void Preallocate(SafeFileHandle handle, int bytes)
    {
        RandomAccess.SetLength(handle, 0);
        var zeros = new byte[1 << 20];
        for (long offset = 0; offset < bytes; offset += zeros.Length)
            RandomAccess.Write(handle, zeros.AsSpan(0, (int)Math.Min(zeros.Length, bytes - offset)), offset);
        NativeFile.Sync(handle, "a journal segment");
    }

    private static string SegmentPath(string directory, int index) => Path.Combine(directory, $"segment-{index}.mfj");

    private static void DataSync(SafeFileHandle handle) => NativeFile.DataSync(handle, "the store journal");

    private static void SyncFileSystem(string directory) => NativeFile.SyncFileSystem(directory);

    private static void SyncDirectory(string directory) => NativeFile.SyncDirectory(directory);

    private sealed record Settings(string Directory, int SegmentBytes, TimeSpan IdleCheckpoint, ILogger Logger);

    /// <summary>Proof of an append; hand it back to <see cref="Completed"/>.</summary>
    internal readonly record struct Ticket(Segment Segment);

    internal sealed class Segment(SafeFileHandle handle, uint epoch)
    {
        public SafeFileHandle Handle { get; } = handle;
        public uint Epoch = epoch;
        public long End = SegmentHeaderBytes;
        public long SyncedEnd = SegmentHeaderBytes;
        public int InFlight;
        public int Records;
        public bool Sealed;
        public readonly Lock SyncLock = new();
        public readonly HashSet<string> Paths = new(StringComparer.Ordinal);
        public readonly HashSet<string> Directories = new(StringComparer.Ordinal);
    }
}
