using System.Buffers.Binary;

namespace MedfusionDicom.Dicom.IO;

/// <summary>
/// An element's value bytes, always in little-endian order in memory. Large values read from files stay on disk
/// until someone asks for them (<see cref="FileByteBuffer"/>), so opening a study does not load its pixels.
/// </summary>
public interface IByteBuffer
{
    long Size { get; }
    /// <summary>The bytes, in memory. A lazy buffer reads them on the first call.</summary>
    ReadOnlyMemory<byte> Memory { get; }
    /// <summary>A stream over the bytes that does not load them all at once.</summary>
    Stream OpenRead();
}

public sealed class MemoryByteBuffer : IByteBuffer
{
    public static readonly MemoryByteBuffer Empty = new(ReadOnlyMemory<byte>.Empty);

    public MemoryByteBuffer(ReadOnlyMemory<byte> data) => Memory = data;
    public long Size => Memory.Length;
    public ReadOnlyMemory<byte> Memory { get; }
    public Stream OpenRead() => new ReadOnlyMemoryStream(Memory);
}

/// <summary>A value that stays in its file until read; byte-swapped on read when the file is big-endian.</summary>
public sealed class FileByteBuffer : IByteBuffer
{
    private readonly string _path;
    private readonly long _offset;
    private readonly int _swapUnit;
    private WeakReference<byte[]>? _cache;

    public FileByteBuffer(string path, long offset, long size, int swapUnit = 1)
    {
        _path = path;
        _offset = offset;
        Size = size;
        _swapUnit = swapUnit;
    }

    public long Size { get; }

    public ReadOnlyMemory<byte> Memory
    {
        get
        {
            if (_cache is not null && _cache.TryGetTarget(out var cached)) return cached;
            if (Size > Array.MaxLength) throw new DicomException($"value of {Size} bytes in {_path} is too large to load at once; stream it");
            var data = new byte[Size];
            using (var fs = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan))
            {
                fs.Position = _offset;
                fs.ReadExactly(data);
            }
            ByteSwap.InPlace(data, _swapUnit);
            _cache = new WeakReference<byte[]>(data);
            return data;
        }
    }

    public Stream OpenRead()
    {
        if (_swapUnit > 1) return new ReadOnlyMemoryStream(Memory);
        var fs = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.SequentialScan);
        fs.Position = _offset;
        return new SubStream(fs, Size);
    }
}

internal static class ByteSwap
{
    public static void InPlace(Span<byte> data, int unit)
    {
        switch (unit)
        {
            case 2:
                var u16 = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(data[..(data.Length & ~1)]);
                BinaryPrimitives.ReverseEndianness(u16, u16);
                break;
            case 4:
                var u32 = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(data[..(data.Length & ~3)]);
                BinaryPrimitives.ReverseEndianness(u32, u32);
                break;
            case 8:
                var u64 = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(data[..(data.Length & ~7)]);
                BinaryPrimitives.ReverseEndianness(u64, u64);
                break;
        }
    }
}

/// <summary>A read-only, seekable stream over memory (MemoryStream needs an array).</summary>
public sealed class ReadOnlyMemoryStream : Stream
{
    private readonly ReadOnlyMemory<byte> _data;
    private int _pos;

    public ReadOnlyMemoryStream(ReadOnlyMemory<byte> data) => _data = data;
    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => _data.Length;
    public override long Position { get => _pos; set => _pos = (int)Math.Clamp(value, 0, _data.Length); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = Math.Min(buffer.Length, _data.Length - _pos);
        _data.Span.Slice(_pos, n).CopyTo(buffer);
        _pos += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch { SeekOrigin.Begin => offset, SeekOrigin.Current => _pos + offset, _ => _data.Length + offset };
        return _pos;
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A window of another stream, of a fixed length; disposing it disposes the inner stream.</summary>
public sealed class SubStream : Stream
{
    private readonly Stream _inner;
    private long _remaining;

    public SubStream(Stream inner, long length)
    {
        _inner = inner;
        _remaining = length;
        Length = length;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length { get; }
    public override long Position { get => Length - _remaining; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_remaining <= 0) return 0;
        var n = _inner.Read(buffer[..(int)Math.Min(buffer.Length, _remaining)]);
        _remaining -= n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_remaining <= 0) return 0;
        var n = await _inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _remaining)], cancellationToken).ConfigureAwait(false);
        _remaining -= n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _inner.Dispose();
        base.Dispose(disposing);
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
