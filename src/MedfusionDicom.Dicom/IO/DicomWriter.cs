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

    public static void WriteDataset(Stream stream, DicomDataset dataset, DicomTransferSyntax syntax) =>
        WriteDatasetAsync(stream, dataset, syntax).GetAwaiter().GetResult();

    public static async Task WriteDatasetAsync(Stream stream, DicomDataset dataset, DicomTransferSyntax syntax, CancellationToken cancellationToken = default)
    {
        if (syntax.IsDeflate)
        {
            await using var deflate = new DeflateStream(stream, CompressionLevel.Optimal, leaveOpen: true);
            await WriteItemsAsync(deflate, dataset, explicitVr: true, bigEndian: false, cancellationToken).ConfigureAwait(false);
            return;
        }
        await WriteItemsAsync(stream, dataset, syntax.IsExplicitVR, syntax.IsBigEndian, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The dataset's encoding as bytes (for command sets and small datasets).</summary>
    public static byte[] Encode(DicomDataset dataset, DicomTransferSyntax syntax)
    {
        using var ms = new MemoryStream();
        WriteDataset(ms, dataset, syntax);
        return ms.ToArray();
    }

    internal static async Task WriteItemsAsync(Stream stream, DicomDataset dataset, bool explicitVr, bool bigEndian, CancellationToken ct)
    {
        var enc = new Encoder(explicitVr, bigEndian);
        foreach (var item in dataset)
        {
            if (IsDroppedGroupLength(item.Tag)) continue;
            switch (item)
            {
                case DicomElement e when e.Length >= StreamedValueThreshold:
                    enc.Header(e.Tag, e.ValueRepresentation, PaddedLength(e.Length));
                    await enc.FlushAsync(stream, ct).ConfigureAwait(false);
                    await CopyValueAsync(stream, e, bigEndian, ct).ConfigureAwait(false);
                    break;
                case DicomFragmentSequence f:
                    enc.Header(f.Tag, f.ValueRepresentation, 0xFFFFFFFF);
                    foreach (var frag in f.Fragments.Prepend(f.OffsetTable))
                    {
                        enc.ItemHeader(DicomTag.Item, (uint)PaddedLength(frag.Size));
                        await enc.FlushAsync(stream, ct).ConfigureAwait(false);
                        await CopyBytesAsync(stream, frag, ct).ConfigureAwait(false);
                    }
                    enc.ItemHeader(DicomTag.SequenceDelimitationItem, 0);
                    break;
                default:
                    enc.Item(item);
                    break;
            }
            if (enc.Pending >= FlushThreshold) await enc.FlushAsync(stream, ct).ConfigureAwait(false);
        }
        await enc.FlushAsync(stream, ct).ConfigureAwait(false);
    }

    /// <summary>Group lengths other than the meta group's are retired; the writer leaves them out.</summary>
    public static bool IsDroppedGroupLength(DicomTag tag) => tag.Element == 0 && tag.Group > 0x0002;

    private static long PaddedLength(long n) => (n + 1) & ~1L;

    private static async Task CopyValueAsync(Stream stream, DicomElement e, bool bigEndian, CancellationToken ct)
    {
        var unit = e.ValueRepresentation == DicomVR.AT ? 2 : e.ValueRepresentation.UnitSize;
        if (bigEndian && unit > 1)
        {
            var copy = e.Buffer.Memory.ToArray();
            ByteSwap.InPlace(copy, unit);
            await stream.WriteAsync(copy, ct).ConfigureAwait(false);
            if ((copy.Length & 1) == 1) stream.WriteByte(e.ValueRepresentation.PaddingByte);
            return;
        }
        await CopyBytesAsync(stream, e.Buffer, ct, e.ValueRepresentation.PaddingByte).ConfigureAwait(false);
    }

    private static async Task CopyBytesAsync(Stream stream, IByteBuffer buffer, CancellationToken ct, byte padding = 0)
    {
        if (buffer is MemoryByteBuffer mem) await stream.WriteAsync(mem.Memory, ct).ConfigureAwait(false);
        else
        {
            await using var src = buffer.OpenRead();
            await src.CopyToAsync(stream, 81920, ct).ConfigureAwait(false);
        }
        if ((buffer.Size & 1) == 1) stream.WriteByte(padding);
    }

    /// <summary>Encodes headers and small items into a growing buffer that is flushed to the stream at safe points.</summary>
    internal sealed class Encoder(bool explicitVr, bool bigEndian)
    {
        // Starts small: command sets and meta groups are a few hundred bytes; the buffer grows to FlushThreshold for datasets.
        private readonly ArrayBufferWriter<byte> _out = new(1024);

        public int Pending => _out.WrittenCount;

        public async ValueTask FlushAsync(Stream stream, CancellationToken ct)
        {
            if (_out.WrittenCount == 0) return;
            await stream.WriteAsync(_out.WrittenMemory, ct).ConfigureAwait(false);
            _out.ResetWrittenCount();
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
