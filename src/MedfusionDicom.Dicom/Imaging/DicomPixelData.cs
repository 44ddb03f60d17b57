using MedfusionDicom.Dicom.IO;

namespace MedfusionDicom.Dicom.Imaging;

/// <summary>The Image Pixel module's description of how stored pixel values are laid out.</summary>
public sealed record DicomPixelDescription(
    int Rows,
    int Columns,
    int SamplesPerPixel,
    int BitsAllocated,
    int BitsStored,
    int HighBit,
    int PixelRepresentation,
    string PhotometricInterpretation,
    int PlanarConfiguration,
    int NumberOfFrames)
{
    public bool IsSigned => PixelRepresentation == 1;
    public int BytesPerSample => (BitsAllocated + 7) / 8;

    /// <summary>Bytes of one uncompressed frame; YBR_*_422 stores two luma and one pair of chroma samples per two pixels.</summary>
    public long FrameLength
    {
        get
        {
            var pixels = (long)Rows * Columns;
            if (BitsAllocated == 1) return (pixels * SamplesPerPixel + 7) / 8;
            var samples = IsSubsampled422 ? pixels * 2 : pixels * SamplesPerPixel;
            return samples * BytesPerSample;
        }
    }

    public bool IsSubsampled422 => PhotometricInterpretation is "YBR_FULL_422" or "YBR_PARTIAL_422";

    /// <summary>
    /// Reads the description from a dataset, with the defaults PS3.3 allows (one frame, planar 0, unsigned) for
    /// elements that are absent. One that is present but unreadable throws <see cref="DicomValueException"/> naming it.
    /// </summary>
    public static DicomPixelDescription FromDataset(DicomDataset ds)
    {
        var rows = Required(ds, DicomTag.Rows);
        var columns = Required(ds, DicomTag.Columns);
        var bitsAllocated = Required(ds, DicomTag.BitsAllocated);
        var bitsStored = ds.GetSingleValueOrDefault<int>(DicomTag.BitsStored, bitsAllocated);
        var highBit = ds.GetSingleValueOrDefault<int>(DicomTag.HighBit, bitsStored - 1);
        var samples = ds.GetSingleValueOrDefault<int>(DicomTag.SamplesPerPixel, 1);
        var pixelRep = ds.GetSingleValueOrDefault<int>(DicomTag.PixelRepresentation, 0);
        var photometric = ds.GetStringOrDefault(DicomTag.PhotometricInterpretation, samples == 1 ? "MONOCHROME2" : "RGB").Trim();
        var planar = samples > 1 ? ds.GetSingleValueOrDefault<int>(DicomTag.PlanarConfiguration, 0) : 0;
        // Some writers put 0 in Number of Frames of a single-frame image; that one reading is taken as 1.
        var frames = Math.Max(ds.GetSingleValueOrDefault(DicomTag.NumberOfFrames, 1), 1);
        var d = new DicomPixelDescription(rows, columns, samples, bitsAllocated, bitsStored, highBit, pixelRep, photometric, planar, frames);
        d.Validate();
        return d;
    }

    private static int Required(DicomDataset ds, DicomTag tag)
    {
        if (!ds.TryGetSingleValue<int>(tag, out var v))
            throw new DicomCodecException($"pixel data needs {tag} {tag.DictionaryEntry.Keyword}, which is missing or empty");
        return v;
    }

    /// <summary>Rejects descriptions no frame arithmetic can trust, so that later code never divides by zero or overflows.</summary>
    public void Validate()
    {
        if (Rows <= 0 || Columns <= 0) throw new DicomCodecException($"image size {Rows}x{Columns} is not valid");
        if (SamplesPerPixel is not (1 or 3 or 4)) throw new DicomCodecException($"Samples per Pixel {SamplesPerPixel} is not supported (1, 3 or 4)");
        if (BitsAllocated is not (1 or 8 or 16 or 32 or 64)) throw new DicomCodecException($"Bits Allocated {BitsAllocated} is not supported (1, 8, 16, 32 or 64)");
        if (BitsStored < 1 || BitsStored > BitsAllocated) throw new DicomCodecException($"Bits Stored {BitsStored} does not fit Bits Allocated {BitsAllocated}");
        if (HighBit < BitsStored - 1 || HighBit >= BitsAllocated) throw new DicomCodecException($"High Bit {HighBit} does not fit Bits Stored {BitsStored} and Bits Allocated {BitsAllocated}");
        if (PixelRepresentation is not (0 or 1)) throw new DicomCodecException($"Pixel Representation {PixelRepresentation} is not 0 or 1");
        if (PlanarConfiguration is not (0 or 1)) throw new DicomCodecException($"Planar Configuration {PlanarConfiguration} is not 0 or 1");
        if (NumberOfFrames <= 0) throw new DicomCodecException($"Number of Frames {NumberOfFrames} is not valid");
    }
}

/// <summary>
/// Pixel Data of a dataset, frame by frame. Native frames are slices of the element's bytes (no copy);
/// encapsulated frames are the fragments that make up each frame, joined only when a frame spans several.
/// </summary>
public sealed class DicomPixelData
{
    private readonly DicomItem _pixels;
    private IReadOnlyList<(int First, int Count)>? _fragmentRanges;

    private DicomPixelData(DicomDataset dataset, DicomItem pixels, DicomPixelDescription description, DicomTransferSyntax syntax)
    {
        Dataset = dataset;
        _pixels = pixels;
        Description = description;
        TransferSyntax = syntax;
    }

    public static DicomPixelData Create(DicomDataset dataset)
    {
        var pixels = dataset[DicomTag.PixelData] ?? throw new DicomCodecException("the dataset has no Pixel Data (7FE0,0010)");
        if (pixels is DicomSequence) throw new DicomCodecException("Pixel Data (7FE0,0010) is a sequence, not pixel data");
        return new DicomPixelData(dataset, pixels, DicomPixelDescription.FromDataset(dataset), dataset.InternalTransferSyntax);
    }

    public DicomDataset Dataset { get; }
    public DicomPixelDescription Description { get; }
    public DicomTransferSyntax TransferSyntax { get; }
    public bool IsEncapsulated => _pixels is DicomFragmentSequence;

    public int Rows => Description.Rows;
    public int Columns => Description.Columns;
    public int SamplesPerPixel => Description.SamplesPerPixel;
    public int BitsAllocated => Description.BitsAllocated;
    public int BitsStored => Description.BitsStored;
    public int HighBit => Description.HighBit;
    public int PixelRepresentation => Description.PixelRepresentation;
    public string PhotometricInterpretation => Description.PhotometricInterpretation;
    public int PlanarConfiguration => Description.PlanarConfiguration;
    public int NumberOfFrames => Description.NumberOfFrames;

    /// <summary>The frame's bytes: native data as stored (little-endian), encapsulated data as the codec's input.</summary>
    public ReadOnlyMemory<byte> GetFrame(int index)
    {
        if (index < 0 || index >= NumberOfFrames)
            throw new DicomCodecException($"frame {index} does not exist; the image has {NumberOfFrames} frame(s)");
        if (_pixels is DicomElement native) return NativeFrame(native.Buffer, index);
        var fragments = (DicomFragmentSequence)_pixels;
        _fragmentRanges ??= FrameFragments(fragments, NumberOfFrames);
        var (first, count) = _fragmentRanges[index];
        if (count == 1) return fragments.Fragments[first].Memory;
        var total = 0L;
        for (var i = first; i < first + count; i++) total += fragments.Fragments[i].Size;
        if (total > Array.MaxLength) throw new DicomCodecException($"frame {index} spans {total} bytes, too many to join");
        var joined = new byte[total];
        var at = 0;
        for (var i = first; i < first + count; i++)
        {
            var span = fragments.Fragments[i].Memory.Span;
            span.CopyTo(joined.AsSpan(at));
            at += span.Length;
        }
        return joined;
    }

    /// <summary>The frame as native little-endian samples and the description that fits them (a codec may change the
    /// photometric interpretation, e.g. YBR to RGB). Native frames are not copied.</summary>
    public (ReadOnlyMemory<byte> Data, DicomPixelDescription Description) GetNativeFrame(int index, DicomCodecRegistry? registry = null)
    {
        var frame = GetFrame(index);
        if (!IsEncapsulated) return (frame, Description);
        var decoded = (registry ?? DicomCodecRegistry.Default).Get(TransferSyntax).Decode(frame, Description, TransferSyntax);
        var description = Description with
        {
            PhotometricInterpretation = decoded.PhotometricInterpretation,
            PlanarConfiguration = decoded.PlanarConfiguration,
        };
        return (decoded.Data, description);
    }

    /// <summary>The frame as float32 modality values, with the dataset's Rescale Slope/Intercept (see <see cref="DicomPixelConverter"/>).</summary>
    public DicomFloatFrame ToFloat32(int index, DicomCodecRegistry? registry = null)
    {
        var (data, description) = GetNativeFrame(index, registry);
        var slope = Dataset.GetSingleValueOrDefault(DicomTag.RescaleSlope, 1.0);
        var intercept = Dataset.GetSingleValueOrDefault(DicomTag.RescaleIntercept, 0.0);
        return DicomPixelConverter.ToFloat32(data.Span, description, slope, intercept);
    }

    private ReadOnlyMemory<byte> NativeFrame(IByteBuffer buffer, int index)
    {
        var frameLength = Description.FrameLength;
        if (Description.BitsAllocated == 1 && NumberOfFrames > 1 && (long)Rows * Columns * SamplesPerPixel % 8 != 0)
            throw new DicomCodecException("multi-frame 1-bit pixel data whose frames do not end on a byte boundary is not supported");
        var start = frameLength * index;
        if (start + frameLength > buffer.Size || start + frameLength > int.MaxValue)
            throw new DicomCodecException($"Pixel Data holds {buffer.Size} bytes; frame {index} needs bytes {start}..{start + frameLength} ({Rows}x{Columns}, {SamplesPerPixel} sample(s), {BitsAllocated} bits allocated)");
        return buffer.Memory.Slice((int)start, (int)frameLength);
    }

    /// <summary>Which fragments make up each frame (PS3.5 A.4): the Basic Offset Table when present, else one fragment
    /// per frame when the counts match, else JPEG/J2K start markers, else all fragments for a single frame.</summary>
    private static (int First, int Count)[] FrameFragments(DicomFragmentSequence seq, int frames)
    {
        var fragments = seq.Fragments;
        if (fragments.Count == 0) throw new DicomCodecException("encapsulated Pixel Data has no fragments");
        var ranges = new (int, int)[frames];
        var offsets = seq.Offsets;
        if (offsets.Count > 0 && offsets.Count == frames) return FromOffsetTable(fragments, offsets, ranges);
        if (frames == 1)
        {
            ranges[0] = (0, fragments.Count);
            return ranges;
        }
        if (fragments.Count == frames)
        {
            for (var i = 0; i < frames; i++) ranges[i] = (i, 1);
            return ranges;
        }
        var starts = new List<int>();
        for (var i = 0; i < fragments.Count; i++)
            if (StartsCodestream(fragments[i].Memory.Span)) starts.Add(i);
        if (starts.Count != frames || starts[0] != 0)
            throw new DicomCodecException($"cannot tell which of the {fragments.Count} fragments belong to which of the {frames} frames (no usable Basic Offset Table, and {starts.Count} codestream starts found)");
        for (var i = 0; i < frames; i++)
            ranges[i] = (starts[i], (i + 1 < frames ? starts[i + 1] : fragments.Count) - starts[i]);
        return ranges;
    }

    private static (int, int)[] FromOffsetTable(List<IByteBuffer> fragments, IReadOnlyList<uint> offsets, (int, int)[] ranges)
    {
        // Offsets count from the first fragment's item tag; each fragment adds its 8-byte item header.
        var position = 0L;
        var frame = 0;
        var firstOfFrame = -1;
        for (var i = 0; i < fragments.Count; i++)
        {
            if (frame < offsets.Count && position == offsets[frame])
            {
                if (firstOfFrame >= 0) ranges[frame - 1] = (firstOfFrame, i - firstOfFrame);
                firstOfFrame = i;
                frame++;
            }
            else if (frame < offsets.Count && position > offsets[frame] || firstOfFrame < 0)
            {
                throw new DicomCodecException($"Basic Offset Table entry {frame} ({(frame < offsets.Count ? offsets[frame] : 0)}) does not point at the start of a fragment");
            }
            position += 8 + fragments[i].Size;
        }
        if (frame != offsets.Count)
            throw new DicomCodecException($"Basic Offset Table lists {offsets.Count} frames but only {frame} start at a fragment");
        ranges[frame - 1] = (firstOfFrame, fragments.Count - firstOfFrame);
        return ranges;
    }

    /// <summary>A JPEG SOI (FFD8) or a JPEG 2000 codestream SOC (FF4F) / JP2 signature box starts a frame.</summary>
    private static bool StartsCodestream(ReadOnlySpan<byte> s) =>
        s.Length >= 2 && s[0] == 0xFF && (s[1] == 0xD8 || s[1] == 0x4F)
        || s.Length >= 12 && s[4] == (byte)'j' && s[5] == (byte)'P' && s[6] == 0x20 && s[7] == 0x20;
}
