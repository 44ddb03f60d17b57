using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;

namespace MedfusionDicom.Dicom.IO;

/// <summary>
/// Writes datasets in any uncompressed transfer syntax. Sequences and items are written with undefined length and
/// delimiters; values are padded to even length with their VR's padding byte; retired group lengths are dropped
/// (the meta group's is computed). Large values are streamed from their source, never loaded whole.
/// </summary>
public static class DicomWriter
{
    private const int FlushThreshold = 256 * 1024;
    private const long StreamedValueThreshold = 64 * 1024;

    /// <summary>Writes with synchronous I/O only (for callers without an async context, e.g. a MemoryStream).</summary>
    public static void WriteDataset(Stream stream, DicomDataset dataset, DicomTransferSyntax syntax)
    {
        var target = OutputFor(stream, syntax);
        try
        {
            foreach (var chunk in Chunks(dataset, syntax)) chunk.WriteTo(target);
        }
        finally
        {
            if (target != stream) target.Dispose();
        }
    }

    /// <summary>Writes with asynchronous I/O only: no synchronous call reaches <paramref name="stream"/>.</summary>
    public static async Task WriteDatasetAsync(Stream stream, DicomDataset dataset, DicomTransferSyntax syntax, CancellationToken cancellationToken = default)
    {
        var target = OutputFor(stream, syntax);
        try
        {
            foreach (var chunk in Chunks(dataset, syntax)) await chunk.WriteToAsync(target, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (target != stream) await target.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The dataset's encoding as bytes (for command sets and small datasets).</summary>
    public static byte[] Encode(DicomDataset dataset, DicomTransferSyntax syntax)
    {
        using var ms = new MemoryStream();
        WriteDataset(ms, dataset, syntax);
        return ms.ToArray();
    }

    /// <summary>Deflated syntaxes compress explicit VR little endian; disposing the deflater writes its last block.</summary>
    private static Stream OutputFor(Stream stream, DicomTransferSyntax syntax) =>
        syntax.IsDeflate ? new DeflateStream(stream, CompressionLevel.Optimal, leaveOpen: true) : stream;

    private static IEnumerable<Chunk> Chunks(DicomDataset dataset, DicomTransferSyntax syntax) =>
        syntax.IsDeflate ? Chunks(dataset, explicitVr: true, bigEndian: false) : Chunks(dataset, syntax.IsExplicitVR, syntax.IsBigEndian);

    /// <summary>
    /// The encoding as a sequence of pieces to write, in order: the one place that decides the bytes, shared by the
    /// synchronous and the asynchronous writer, which differ only in how they hand each piece to the stream. A yielded
    /// piece of encoder bytes is valid until the next one is asked for.
    /// </summary>
    private static IEnumerable<Chunk> Chunks(DicomDataset dataset, bool explicitVr, bool bigEndian)
    {
        var enc = new Encoder(explicitVr, bigEndian);
        foreach (var item in dataset)
        {
            if (IsDroppedGroupLength(item.Tag)) continue;
            switch (item)
            {
                case DicomElement e when e.Length >= StreamedValueThreshold:
                    enc.Header(e.Tag, e.ValueRepresentation, PaddedLength(e.Length));
                    yield return enc.Pending();
                    var unit = e.ValueRepresentation == DicomVR.AT ? 2 : e.ValueRepresentation.UnitSize;
                    if (bigEndian && unit > 1)
                    {
                        var swapped = e.Buffer.Memory.ToArray();
                        ByteSwap.InPlace(swapped, unit);
                        yield return Chunk.Of(swapped);
                    }
                    else yield return Chunk.Of(e.Buffer);
                    enc.PadOdd(e.Length, e.ValueRepresentation.PaddingByte);
                    break;
                case DicomFragmentSequence f:
                    enc.Header(f.Tag, f.ValueRepresentation, 0xFFFFFFFF);
                    foreach (var frag in f.Fragments.Prepend(f.OffsetTable))
                    {
                        enc.ItemHeader(DicomTag.Item, (uint)PaddedLength(frag.Size));
                        yield return enc.Pending();
                        yield return Chunk.Of(frag);
                        enc.PadOdd(frag.Size, 0);
                    }
                    enc.ItemHeader(DicomTag.SequenceDelimitationItem, 0);
                    break;
                default:
                    enc.Item(item);
                    break;
            }
            if (enc.PendingCount >= FlushThreshold) yield return enc.Pending();
        }
        if (enc.PendingCount > 0) yield return enc.Pending();
    }

    /// <summary>Group lengths other than the meta group's are retired; the writer leaves them out.</summary>
    public static bool IsDroppedGroupLength(DicomTag tag) => tag.Element == 0 && tag.Group > 0x0002;

    private static long PaddedLength(long n) => (n + 1) & ~1L;

    /// <summary>One piece of output: bytes in memory, or a value streamed from where it lives (a file) without loading it whole.</summary>
    internal readonly struct Chunk
    {
        private readonly ReadOnlyMemory<byte> _bytes;
        private readonly IByteBuffer? _source;

        private Chunk(ReadOnlyMemory<byte> bytes, IByteBuffer? source)
        {
            _bytes = bytes;
            _source = source;
        }

        public static Chunk Of(ReadOnlyMemory<byte> bytes) => new(bytes, null);

        public static Chunk Of(IByteBuffer buffer) => buffer is MemoryByteBuffer mem ? new(mem.Memory, null) : new(default, buffer);

        public void WriteTo(Stream stream)
        {
            if (_source is null)
            {
                stream.Write(_bytes.Span);
                return;
            }
            using var src = _source.OpenRead();
            src.CopyTo(stream, CopyBufferSize);
        }

        public async ValueTask WriteToAsync(Stream stream, CancellationToken ct)
        {
            if (_source is null)
            {
                await stream.WriteAsync(_bytes, ct).ConfigureAwait(false);
                return;
            }
            await using var src = _source.OpenRead();
            await src.CopyToAsync(stream, CopyBufferSize, ct).ConfigureAwait(false);
        }
    }

    private const int CopyBufferSize = 81920;

    /// <summary>Encodes headers and small items into a growing buffer that is flushed to the stream at safe points.</summary>
    internal sealed class Encoder(bool explicitVr, bool bigEndian)
    {
        // Starts small: command sets and meta groups are a few hundred bytes; the buffer grows to FlushThreshold for datasets.
        private readonly ArrayBufferWriter<byte> _out = new(1024);

        public int PendingCount => _out.WrittenCount;

        /// <summary>The bytes encoded so far, to be written before anything else is encoded (the buffer is then reused).</summary>
        public Chunk Pending()
        {
            var chunk = Chunk.Of(_out.WrittenMemory);
            _out.ResetWrittenCount();
            return chunk;
        }

        /// <summary>The padding byte after a value of odd length that was written around the encoder (streamed).</summary>
        public void PadOdd(long length, byte padding)
        {
            if ((length & 1) == 0) return;
            _out.GetSpan(1)[0] = padding;
            _out.Advance(1);
        }

        public byte[] ToArray() => _out.WrittenSpan.ToArray();

        public void Item(DicomItem item)
        {
            switch (item)
            {
                case DicomElement e:
                    Element(e);
                    break;
                case DicomSequence sq:
                    Header(sq.Tag, DicomVR.SQ, 0xFFFFFFFF);
                    foreach (var child in sq.Items)
                    {
                        ItemHeader(DicomTag.Item, 0xFFFFFFFF);
                        foreach (var inner in child)
                        {
                            if (IsDroppedGroupLength(inner.Tag)) continue;
                            Item(inner);
                        }
                        ItemHeader(DicomTag.ItemDelimitationItem, 0);
                    }
                    ItemHeader(DicomTag.SequenceDelimitationItem, 0);
                    break;
                case DicomFragmentSequence f:
                    Header(f.Tag, f.ValueRepresentation, 0xFFFFFFFF);
                    foreach (var frag in f.Fragments.Prepend(f.OffsetTable))
                    {
                        ItemHeader(DicomTag.Item, (uint)PaddedLength(frag.Size));
                        Bytes(frag.Memory.Span, 0, 1);
                    }
                    ItemHeader(DicomTag.SequenceDelimitationItem, 0);
                    break;
            }
        }

        private void Element(DicomElement e)
        {
            var vr = e.ValueRepresentation;
            var value = e.Buffer.Memory.Span;
            var length = PaddedLength(value.Length);
            if (explicitVr && !vr.HasLongExplicitHeader && length > 0xFFFF)
                throw new DicomException($"{e.Tag} {vr} value of {length} bytes does not fit the 16-bit length of explicit VR; write it as UN or in implicit VR");
            Header(e.Tag, vr, length);
            Bytes(value, vr.PaddingByte, bigEndian ? (vr == DicomVR.AT ? 2 : vr.UnitSize) : 1);
        }

        private void Bytes(ReadOnlySpan<byte> value, byte padding, int swapUnit)
        {
            var padded = (int)PaddedLength(value.Length);
            var dst = _out.GetSpan(padded)[..padded];
            value.CopyTo(dst);
            if (swapUnit > 1) ByteSwap.InPlace(dst[..value.Length], swapUnit);
            if (padded != value.Length) dst[^1] = padding;
            _out.Advance(padded);
        }

        public void Header(DicomTag tag, DicomVR vr, long length)
        {
            var span = _out.GetSpan(12);
            U16(span, tag.Group);
            U16(span[2..], tag.Element);
            if (!explicitVr)
            {
                U32(span[4..], (uint)length);
                _out.Advance(8);
                return;
            }
            var code = vr == DicomVR.NONE ? DicomVR.UN : vr;
            span[4] = (byte)code.Code[0];
            span[5] = (byte)code.Code[1];
            if (code.HasLongExplicitHeader)
            {
                span[6] = 0;
                span[7] = 0;
                U32(span[8..], (uint)length);
                _out.Advance(12);
            }
            else
            {
                U16(span[6..], (ushort)length);
                _out.Advance(8);
            }
        }

        public void ItemHeader(DicomTag tag, uint length)
        {
            var span = _out.GetSpan(8);
            U16(span, tag.Group);
            U16(span[2..], tag.Element);
            U32(span[4..], length);
            _out.Advance(8);
        }

        private void U16(Span<byte> s, ushort v)
        {
            if (bigEndian) BinaryPrimitives.WriteUInt16BigEndian(s, v);
            else BinaryPrimitives.WriteUInt16LittleEndian(s, v);
        }

        private void U32(Span<byte> s, uint v)
        {
            if (bigEndian) BinaryPrimitives.WriteUInt32BigEndian(s, v);
            else BinaryPrimitives.WriteUInt32LittleEndian(s, v);
        }
    }
}
