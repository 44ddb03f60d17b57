using System.IO.Compression;

namespace MedfusionDicom.Dicom.IO;

public sealed class DicomReaderOptions
{
    public static DicomReaderOptions Default { get; } = new();

    /// <summary>Values at least this large, in files opened by path, stay on disk until read.</summary>
    public long LazyValueThreshold { get; init; } = 64 * 1024;

    /// <summary>Files up to this size are read whole into memory (their values are then slices of one array).</summary>
    public long InMemoryFileLimit { get; init; } = 16 * 1024 * 1024;

    /// <summary>Deeper nesting of sequences than this is taken as a corrupt (or hostile) input.</summary>
    public int MaximumSequenceDepth { get; init; } = 64;

    /// <summary>Stop reading the dataset at this tag (exclusive), e.g. before Pixel Data to read headers only.</summary>
    public DicomTag? StopBeforeTag { get; init; }
}

/// <summary>Parses datasets in any of the uncompressed transfer syntaxes (and the dataset part of compressed ones).</summary>
public static class DicomReader
{
    /// <summary>Reads a raw dataset (no preamble, no meta group), as DIMSE hands them over.</summary>
    public static DicomDataset ReadDataset(ReadOnlyMemory<byte> data, DicomTransferSyntax syntax, DicomReaderOptions? options = null)
    {
        var array = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(data, out var seg) ? seg : new ArraySegment<byte>(data.ToArray());
        return ReadDataset(new ByteSource(seg.Array ?? array.Array!, array.Offset, array.Count), syntax, options ?? DicomReaderOptions.Default);
    }

    /// <summary>Reads a raw dataset from a stream up to its end.</summary>
    public static DicomDataset ReadDataset(Stream stream, DicomTransferSyntax syntax, DicomReaderOptions? options = null, string? filePath = null) =>
        ReadDataset(new ByteSource(stream, filePath), syntax, options ?? DicomReaderOptions.Default);

    internal static DicomDataset ReadDataset(ByteSource source, DicomTransferSyntax syntax, DicomReaderOptions options)
    {
        if (syntax.IsDeflate)
        {
            var inflated = new DeflateStream(source.RemainderAsStream(), CompressionMode.Decompress);
            source = new ByteSource(inflated);
        }
        var explicitVr = syntax.IsExplicitVR;
        // Some writers declare explicit VR and write implicit: look at the first element, as DCMTK does.
        try
        {
            if (explicitVr && !syntax.IsBigEndian && LooksImplicit(source)) explicitVr = false;
        }
        catch (InvalidDataException ex)
        {
            // The first peek is the first read of a deflated stream: a corrupt one fails here, before the parser's guard.
            throw new DicomReaderException("deflated dataset is corrupt: " + ex.Message, source.Position, null, ex);
        }
        var parser = new DicomParser(source, explicitVr, syntax.IsBigEndian, options);
        var ds = new DicomDataset { InternalTransferSyntax = syntax };
        parser.ReadTopLevel(ds);
        return ds;
    }

    private static bool LooksImplicit(ByteSource source)
    {
        var head = source.Peek(6);
        if (head.Length < 6) return false;
        return !DicomVR.TryParse(head[4], head[5], out _) && !(head[0] == 0xFE && head[1] == 0xFF);
    }

    /// <summary>Reads a Part 10 file's meta group and dataset; files without preamble or meta are read when possible.</summary>
    internal static (DicomDataset Meta, DicomDataset Dataset) ReadFile(ByteSource source, DicomReaderOptions options)
    {
        var meta = new DicomDataset();
        var head = source.Peek(132);
        var hasPreamble = head.Length == 132 && head[128] == 'D' && head[129] == 'I' && head[130] == 'C' && head[131] == 'M';
        if (hasPreamble) source.Skip(132);
        var start = source.Peek(2);
        if (start.Length < 2) throw new DicomReaderException("input is empty or too short to be DICOM", source.Position);
        if (start[0] == 0x02 && start[1] == 0x00)
        {
            var metaExplicit = !LooksImplicit(source);
            var metaParser = new DicomParser(source, metaExplicit, bigEndian: false, options);
            metaParser.ReadMetaGroup(meta);
        }
        else if (hasPreamble)
        {
            throw new DicomReaderException("file has the DICM prefix but no File Meta Information group (0002,xxxx)", source.Position);
        }
        DicomTransferSyntax syntax;
        if (meta.TryGetString(DicomTag.TransferSyntaxUID, out var tsUid) && tsUid.Length > 0)
        {
            try
            {
                syntax = DicomTransferSyntax.Parse(tsUid);
            }
            catch (DicomException ex)
            {
                throw new DicomReaderException(ex.Message, source.Position, DicomTag.TransferSyntaxUID);
            }
        }
        else
        {
            syntax = InferSyntax(source, meta.Count > 0);
        }
        return (meta, ReadDataset(source, syntax, options));
    }

    private static DicomTransferSyntax InferSyntax(ByteSource source, bool hadMeta)
    {
        var head = source.Peek(6);
        if (head.Length < 6) throw new DicomReaderException("not a DICOM file: too short for a data element", source.Position);
        var groupLe = (ushort)(head[0] | head[1] << 8);
        var groupBe = (ushort)(head[0] << 8 | head[1]);
        var vrLike = DicomVR.TryParse(head[4], head[5], out _);
        if (groupLe is >= 0x0002 and <= 0x00FF && groupLe % 2 == 0 || groupLe == 0x0800 && groupBe == 0x0008)
        {
            if (groupLe <= 0x00FF) return vrLike ? DicomTransferSyntax.ExplicitVRLittleEndian : DicomTransferSyntax.ImplicitVRLittleEndian;
        }
        if (groupBe is >= 0x0002 and <= 0x00FF && vrLike) return DicomTransferSyntax.ExplicitVRBigEndian;
        if (hadMeta) return DicomTransferSyntax.ImplicitVRLittleEndian; // the default transfer syntax, as DCMTK assumes
        // Name the tag the first bytes would be (little endian, as DCMTK reports it) so the message says what was found.
        throw new DicomReaderException("not a DICOM file: no 'DICM' prefix, and the start does not look like a dataset", source.Position,
            new DicomTag(groupLe, (ushort)(head[2] | head[3] << 8)));
    }
}

internal sealed class DicomParser
{
    private readonly ByteSource _src;
    private readonly bool _explicit;
    private readonly bool _bigEndian;
    private readonly DicomReaderOptions _options;
    private int _depth;

    public DicomParser(ByteSource source, bool explicitVr, bool bigEndian, DicomReaderOptions options)
    {
        _src = source;
        _explicit = explicitVr;
        _bigEndian = bigEndian;
        _options = options;
    }

    public void ReadTopLevel(DicomDataset ds) => Guard(() => ReadItems(ds, end: -1, inUndefinedItem: false, stopAtMetaEnd: false));

    public void ReadMetaGroup(DicomDataset meta) => Guard(() => ReadItems(meta, end: -1, inUndefinedItem: false, stopAtMetaEnd: true));

    private void Guard(Action read)
    {
        try
        {
            read();
        }
        catch (EndOfInputException)
        {
            // The element's start, not where reading stopped: over a stream the end is only found while copying the value.
            throw new DicomReaderException("input ends in the middle of a data element (truncated file?)", _elementStart, _currentTag);
        }
        catch (InvalidDataException ex)
        {
            throw new DicomReaderException("deflated dataset is corrupt: " + ex.Message, _src.Position, _currentTag, ex);
        }
        catch (IOException ex)
        {
            throw new DicomReaderException("input could not be read: " + ex.Message, _src.Position, _currentTag, ex);
        }
    }

    private DicomTag? _currentTag;
    private long _elementStart;

    /// <summary>Reads elements into <paramref name="ds"/> until <paramref name="end"/>, an item delimiter, or the input's end.</summary>
    private void ReadItems(DicomDataset ds, long end, bool inUndefinedItem, bool stopAtMetaEnd)
    {
        while (true)
        {
            if (end >= 0)
            {
                if (_src.Position == end) return;
                if (_src.Position > end) throw new DicomReaderException("element runs past the end of its item or sequence", _src.Position, _currentTag);
            }
            if (!_src.HasMore)
            {
                if (inUndefinedItem) throw new DicomReaderException("input ends inside an item that has no delimiter", _src.Position, _currentTag);
                if (end >= 0) throw new EndOfInputException(end - _src.Position);
                return;
            }
            var head = _src.Peek(2);
            if (head.Length < 2) throw new EndOfInputException(2);
            var group = _bigEndian ? (ushort)(head[0] << 8 | head[1]) : (ushort)(head[0] | head[1] << 8);
            if (stopAtMetaEnd && group != 0x0002) return;
            var elementStart = _elementStart = _src.Position;
            var tag = new DicomTag(_src.ReadUInt16(_bigEndian), _src.ReadUInt16(_bigEndian));
            _currentTag = tag;
            if (_options.StopBeforeTag is { } stop && tag >= stop && _depth == 0)
            {
                return;
            }
            if (tag.Group == 0xFFFE)
            {
                var delimLength = _src.ReadUInt32(_bigEndian);
                if (tag == DicomTag.ItemDelimitationItem)
                {
                    if (inUndefinedItem) return;
                    if (delimLength != 0) _src.Skip(delimLength);
                    continue; // a stray delimiter at the top level: DCMTK skips it too
                }
                if (tag == DicomTag.SequenceDelimitationItem && _depth == 0)
                {
                    continue;
                }
                throw new DicomReaderException($"unexpected {(tag == DicomTag.Item ? "item" : "delimiter")} tag {tag} outside a sequence", elementStart, tag);
            }

            DicomVR vr;
            long length;
            if (_explicit)
            {
                var (b0, b1) = _src.ReadTwoBytes();
                if (!DicomVR.TryParse(b0, b1, out vr))
                {
                    throw new DicomReaderException($"invalid VR '{Printable(b0)}{Printable(b1)}' (bytes {b0:X2} {b1:X2})", elementStart, tag);
                }
                if (vr.HasLongExplicitHeader)
                {
                    _src.Skip(2);
                    length = _src.ReadUInt32(_bigEndian);
                }
                else
                {
                    length = _src.ReadUInt16(_bigEndian);
                }
            }
            else
            {
                vr = ImplicitVR(tag, ds);
                length = _src.ReadUInt32(_bigEndian);
            }

            var undefined = length == 0xFFFFFFFF;
            DicomItem item;
            if (vr == DicomVR.SQ || (undefined && vr == DicomVR.UN))
            {
                // UN with undefined length is a sequence encoded in implicit VR little endian (PS3.5 §6.2.2).
                item = vr == DicomVR.UN && _explicit
                    ? new DicomParser(_src, explicitVr: false, bigEndian: false, _options) { _depth = _depth }.ReadSequence(tag, length)
                    : ReadSequence(tag, length);
            }
            else if (undefined)
            {
                if (tag != DicomTag.PixelData && vr != DicomVR.OB && vr != DicomVR.OW)
                    throw new DicomReaderException($"undefined length is not allowed for VR {vr}", elementStart, tag);
                item = ReadFragments(tag, vr == DicomVR.OW ? DicomVR.OW : DicomVR.OB);
            }
            else
            {
                if (end >= 0 && _src.Position + length > end)
                    throw new DicomReaderException($"value length {length} runs past the end of its item", elementStart, tag);
                if (length > _src.Remaining)
                    throw new DicomReaderException($"value length {length} exceeds the {_src.Remaining} bytes left in the input", elementStart, tag);
                var swap = _bigEndian ? (vr == DicomVR.AT ? 2 : vr.UnitSize) : 1;
                item = new DicomElement(tag, vr, _src.ReadValue(length, swap, _options.LazyValueThreshold));
            }
            ds.AddRead(item);
        }
    }

    private DicomSequence ReadSequence(DicomTag tag, long length)
    {
        if (++_depth > _options.MaximumSequenceDepth)
            throw new DicomReaderException($"sequences nested more than {_options.MaximumSequenceDepth} deep", _src.Position, tag);
        var seq = new DicomSequence(tag);
        var undefined = length == 0xFFFFFFFF;
        // A defined length past the end of input is clamped, as DCMTK does: the items inside still have to parse.
        var end = undefined ? -1 : _src.Position + Math.Min(length, _src.Remaining);
        while (true)
        {
            if (!undefined && _src.Position >= end)
            {
                if (_src.Position > end) throw new DicomReaderException("sequence items run past the sequence's length", _src.Position, tag);
                break;
            }
            var itemStart = _src.Position;
            if (!_src.Ensure(8)) throw new DicomReaderException("input ends inside a sequence", itemStart, tag);
            var itemTag = new DicomTag(_src.ReadUInt16(_bigEndian), _src.ReadUInt16(_bigEndian));
            var itemLength = _src.ReadUInt32(_bigEndian);
            if (itemTag == DicomTag.SequenceDelimitationItem)
            {
                if (undefined) break;
                continue; // tolerated inside a defined-length sequence, as DCMTK does
            }
            if (itemTag != DicomTag.Item)
                throw new DicomReaderException($"expected an item tag (FFFE,E000) in the sequence, found {itemTag}", itemStart, tag);
            var item = new DicomDataset { Parent = null };
            var itemUndefined = itemLength == 0xFFFFFFFF;
            var itemEnd = itemUndefined ? -1 : _src.Position + Math.Min(itemLength, _src.Remaining);
            if (end >= 0 && itemEnd > end)
                throw new DicomReaderException($"item length {itemLength} runs past the end of its sequence", itemStart, tag);
            ReadItems(item, itemEnd, itemUndefined, stopAtMetaEnd: false);
            _currentTag = tag;
            seq.Items.Add(item);
        }
        _depth--;
        return seq;
    }

    private DicomFragmentSequence ReadFragments(DicomTag tag, DicomVR vr)
    {
        IByteBuffer? offsets = null;
        var fragments = new List<IByteBuffer>();
        while (true)
        {
            var itemStart = _src.Position;
            if (!_src.Ensure(8)) throw new DicomReaderException("input ends inside encapsulated pixel data (no sequence delimiter)", itemStart, tag);
            var itemTag = new DicomTag(_src.ReadUInt16(_bigEndian), _src.ReadUInt16(_bigEndian));
            var length = _src.ReadUInt32(_bigEndian);
            if (itemTag == DicomTag.SequenceDelimitationItem) break;
            if (itemTag != DicomTag.Item)
                throw new DicomReaderException($"expected a fragment item (FFFE,E000) in encapsulated pixel data, found {itemTag}", itemStart, tag);
            if (length == 0xFFFFFFFF || length > _src.Remaining)
                throw new DicomReaderException($"fragment length {length} exceeds the {_src.Remaining} bytes left in the input", itemStart, tag);
            var value = _src.ReadValue(length, 1, _options.LazyValueThreshold);
            if (offsets is null) offsets = value;
            else fragments.Add(value);
        }
        return new DicomFragmentSequence(tag, vr, offsets ?? MemoryByteBuffer.Empty, fragments);
    }

    private static readonly HashSet<uint> PixelRepresentationDependent =
    [
        0x00280104, 0x00280105, 0x00280106, 0x00280107, 0x00280108, 0x00280109, 0x00280110, 0x00280111, 0x00280120, 0x00280121,
        0x00281101, 0x00281102, 0x00281103, 0x00283002, 0x00409211, 0x00409216,
    ];

    private static DicomVR ImplicitVR(DicomTag tag, DicomDataset ds)
    {
        if (tag.IsPrivate) return tag.IsPrivateCreator ? DicomVR.LO : DicomVR.UN;
        var vr = tag.DictionaryEntry.ValueRepresentation;
        if (vr == DicomVR.NONE) return DicomVR.UN;
        if (vr == DicomVR.US && PixelRepresentationDependent.Contains(tag.Value) && IsSigned(ds))
            return DicomVR.SS;
        return vr;
    }

    /// <summary>
    /// Only picks the VR of a value whose bytes are kept as read; an unreadable Pixel Representation must not stop
    /// the file from being read. It fails later, naming the tag, when someone reads it to interpret pixels.
    /// </summary>
    private static bool IsSigned(DicomDataset ds)
    {
        try
        {
            return ds.TryGetSingleValue<ushort>(DicomTag.PixelRepresentation, out var pr) && pr == 1;
        }
        catch (DicomValueException)
        {
            return false;
        }
    }

    private static char Printable(byte b) => b is >= 0x20 and < 0x7F ? (char)b : '?';
}
