using System.Buffers.Binary;

namespace MedfusionDicom.Dicom.IO;

/// <summary>
/// Sequential, position-tracking input for the parser. Over memory, values are slices of the one array (no copies).
/// Over a stream, small values are copied out of a window, and large values of a seekable file are left on disk
/// (<see cref="FileByteBuffer"/>). Lengths are checked against what the input can hold before anything is allocated.
/// </summary>
internal sealed class ByteSource
{
    private const int WindowSize = 64 * 1024;

    private readonly Stream? _stream;
    private readonly string? _filePath;
    private readonly bool _memoryMode;
    private readonly long _streamLength; // -1 when unknown (non-seekable)
    private byte[] _buf;
    private int _pos;
    private int _len;
    private long _bufStart;

    public ByteSource(byte[] data, int offset, int length)
    {
        _buf = data;
        _pos = offset;
        _len = offset + length;
        _bufStart = 0;
        _memoryMode = true;
        _streamLength = offset + length;
        BaseOffset = -offset;
    }

    public ByteSource(Stream stream, string? filePath = null)
    {
        _stream = stream;
        _filePath = stream.CanSeek ? filePath : null;
        _buf = new byte[WindowSize];
        _bufStart = stream.CanSeek ? stream.Position : 0;
        _streamLength = stream.CanSeek ? stream.Length : -1;
    }

    /// <summary>Added to positions so that offsets in errors count from the start of the input.</summary>
    private long BaseOffset { get; }

    public long Position => _bufStart + _pos + BaseOffset;

    /// <summary>Bytes left, when the input's length is known; otherwise long.MaxValue.</summary>
    public long Remaining => _streamLength < 0 ? long.MaxValue : _streamLength - (_bufStart + _pos);

    public bool HasMore => Ensure(1);

    public bool Ensure(int n)
    {
        if (_len - _pos >= n) return true;
        if (_memoryMode || _stream is null) return false;
        if (_pos > 0)
        {
            Buffer.BlockCopy(_buf, _pos, _buf, 0, _len - _pos);
            _bufStart += _pos;
            _len -= _pos;
            _pos = 0;
        }
        if (n > _buf.Length) Array.Resize(ref _buf, Math.Max(n, _buf.Length * 2));
        while (_len < n)
        {
            var read = _stream.Read(_buf, _len, _buf.Length - _len);
            if (read == 0) return false;
            _len += read;
        }
        return true;
    }

    public ReadOnlySpan<byte> Peek(int n) => Ensure(n) ? _buf.AsSpan(_pos, n) : ReadOnlySpan<byte>.Empty;

    public ushort ReadUInt16(bool bigEndian)
    {
        Require(2);
        var v = bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(_buf.AsSpan(_pos)) : BinaryPrimitives.ReadUInt16LittleEndian(_buf.AsSpan(_pos));
        _pos += 2;
        return v;
    }

    public uint ReadUInt32(bool bigEndian)
    {
        Require(4);
        var v = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(_buf.AsSpan(_pos)) : BinaryPrimitives.ReadUInt32LittleEndian(_buf.AsSpan(_pos));
        _pos += 4;
        return v;
    }

    public (byte, byte) ReadTwoBytes()
    {
        Require(2);
        var r = (_buf[_pos], _buf[_pos + 1]);
        _pos += 2;
        return r;
    }

    public void Skip(long n)
    {
        if (n <= _len - _pos)
        {
            _pos += (int)n;
            return;
        }
        if (n > Remaining) throw new EndOfInputException(n);
        if (_memoryMode) throw new EndOfInputException(n);
        var left = n - (_len - _pos);
        _bufStart += _len;
        _pos = _len = 0;
        if (_stream!.CanSeek)
        {
            _stream.Seek(left, SeekOrigin.Current);
            _bufStart += left;
            return;
        }
        while (left > 0)
        {
            var read = _stream.Read(_buf, 0, (int)Math.Min(_buf.Length, left));
            if (read == 0) throw new EndOfInputException(n);
            _bufStart += read;
            left -= read;
        }
    }

    /// <summary>Reads a value of <paramref name="length"/> bytes, byte-swapping units of <paramref name="swapUnit"/> bytes.</summary>
    public IByteBuffer ReadValue(long length, int swapUnit, long lazyThreshold)
    {
        if (length == 0) return MemoryByteBuffer.Empty;
        if (length > Remaining) throw new EndOfInputException(length);
        if (_memoryMode)
        {
            var start = _pos;
            _pos += (int)length;
            if (swapUnit <= 1) return new MemoryByteBuffer(new ReadOnlyMemory<byte>(_buf, start, (int)length));
            var copy = _buf.AsSpan(start, (int)length).ToArray();
            ByteSwap.InPlace(copy, swapUnit);
            return new MemoryByteBuffer(copy);
        }
        if (_filePath is not null && length >= lazyThreshold)
        {
            var lazy = new FileByteBuffer(_filePath, _bufStart + _pos, length, swapUnit);
            Skip(length);
            return lazy;
        }
        if (length > Array.MaxLength) throw new EndOfInputException(length);
        // Unknown-length input: grow as bytes arrive, so a bogus length ends in an error, not a huge allocation.
        var data = length <= 16 * 1024 * 1024 || Remaining != long.MaxValue ? new byte[length] : null;
        if (data is not null)
        {
            FillExactly(data);
            ByteSwap.InPlace(data, swapUnit);
            return new MemoryByteBuffer(data);
        }
        using var ms = new MemoryStream();
        var chunk = new byte[1024 * 1024];
        var left = length;
        while (left > 0)
        {
            var part = chunk.AsSpan(0, (int)Math.Min(chunk.Length, left));
            FillExactly(part);
            ms.Write(part);
            left -= part.Length;
        }
        var all = ms.ToArray();
        ByteSwap.InPlace(all, swapUnit);
        return new MemoryByteBuffer(all);
    }

    private void FillExactly(Span<byte> target)
    {
        var have = Math.Min(_len - _pos, target.Length);
        _buf.AsSpan(_pos, have).CopyTo(target);
        _pos += have;
        var done = have;
        while (done < target.Length)
        {
            var read = _stream!.Read(target[done..]);
            if (read == 0) throw new EndOfInputException(target.Length);
            done += read;
            _bufStart += read;
        }
    }

    /// <summary>The rest of the input as a stream (for inflating a deflated dataset).</summary>
    public Stream RemainderAsStream()
    {
        var buffered = new MemoryStream(_buf, _pos, _len - _pos, writable: false);
        if (_memoryMode || _stream is null) return buffered;
        return new ConcatStream(buffered, _stream);
    }

    private void Require(int n)
    {
        if (!Ensure(n)) throw new EndOfInputException(n);
    }
}

/// <summary>Raised inside the parser when input ends early; the parser turns it into a <see cref="DicomReaderException"/>.</summary>
internal sealed class EndOfInputException(long wanted) : Exception($"needed {wanted} more bytes")
{
    public long Wanted { get; } = wanted;
}

internal sealed class ConcatStream(Stream first, Stream second) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count)
    {
        var n = first.Read(buffer, offset, count);
        return n > 0 ? n : second.Read(buffer, offset, count);
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
