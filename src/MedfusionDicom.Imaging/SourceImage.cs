using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Imaging;

namespace MedfusionDicom.Imaging;

/// <summary>
/// A grayscale DICOM image as a model's source: every frame's modality values (Modality LUT, Bits Stored, High Bit and
/// sign applied) and stored values, and the stored encoding derived images are written back in.
/// </summary>
public sealed class SourceImage
{
    private readonly DicomPixelData _pixels;
    private readonly DicomCodecRegistry? _codecs;

    private SourceImage(DicomDataset dataset, DicomPixelData pixels, DicomCodecRegistry? codecs)
    {
        Dataset = dataset;
        _pixels = pixels;
        _codecs = codecs;
        Encoding = StoredEncoding.Of(dataset, pixels.Description);
    }

    /// <summary>Opens the dataset's pixel data. Colour images are refused: the models are grayscale, and converting is the caller's call.</summary>
    public static SourceImage Open(DicomDataset dataset, DicomCodecRegistry? codecs = null)
    {
        var pixels = DicomPixelData.Create(dataset);
        var d = pixels.Description;
        if (d.SamplesPerPixel != 1 || d.PhotometricInterpretation is not ("MONOCHROME1" or "MONOCHROME2"))
            throw new ImagingException($"Photometric Interpretation {d.PhotometricInterpretation} with {d.SamplesPerPixel} samples per pixel: " +
                "the models take grayscale images (MONOCHROME1 or MONOCHROME2); convert the image to grayscale first if that is what you mean");
        if (d.BitsStored > 16)
            throw new ImagingException($"Bits Stored {d.BitsStored}: derived images are written in the source's encoding, which is 16 bits at most");
        return new SourceImage(dataset, pixels, codecs);
    }

    public DicomDataset Dataset { get; }
    public DicomPixelDescription Description => _pixels.Description;
    public StoredEncoding Encoding { get; }
    public int Width => Description.Columns;
    public int Height => Description.Rows;
    public int FrameCount => Description.NumberOfFrames;

    /// <summary>MONOCHROME1: the lowest value is white. The intensity window inverts it so that models see bright as dense.</summary>
    public bool IsMonochrome1 => Description.PhotometricInterpretation == "MONOCHROME1";

    /// <summary>One frame, decoded once (a compressed frame is decompressed here), for its modality and stored values.</summary>
    public SourceFrame ReadFrame(int frame)
    {
        var (data, description) = _pixels.GetNativeFrame(frame, _codecs);
        return new SourceFrame(data, description, Encoding);
    }

    public float[] ModalityValues(int frame) => ReadFrame(frame).ModalityValues();

    public int[] StoredValues(int frame) => ReadFrame(frame).StoredValues();
}

/// <summary>A decoded frame of a <see cref="SourceImage"/>: native little-endian samples and their description.</summary>
public sealed class SourceFrame
{
    private readonly ReadOnlyMemory<byte> _data;
    private readonly DicomPixelDescription _description;
    private readonly StoredEncoding _encoding;

    internal SourceFrame(ReadOnlyMemory<byte> data, DicomPixelDescription description, StoredEncoding encoding)
    {
        _data = data;
        _description = description;
        _encoding = encoding;
    }

    /// <summary>Stored values through the Modality LUT.</summary>
    public float[] ModalityValues() =>
        DicomPixelConverter.ToFloat32(_data.Span, _description, _encoding.RescaleSlope, _encoding.RescaleIntercept).Data;

    /// <summary>The stored values: bits above High Bit masked off, sign-extended.</summary>
    public int[] StoredValues() => DicomPixelConverter.ToStoredValues(_data.Span, _description);
}

/// <summary>
/// The stored encoding of a source image: Bits Stored, sign and Modality LUT. Results written in it keep the source's
/// scale and precision, and a value the model did not change keeps its stored value.
/// </summary>
public sealed record StoredEncoding(int BitsStored, bool Signed, double RescaleSlope, double RescaleIntercept)
{
    public static StoredEncoding Of(DicomDataset dataset, DicomPixelDescription description) => new(
        description.BitsStored, description.IsSigned,
        dataset.GetSingleValueOrDefault(DicomTag.RescaleSlope, 1.0), dataset.GetSingleValueOrDefault(DicomTag.RescaleIntercept, 0.0));

    /// <summary>Modality values as stored values of this encoding; values outside its range are clamped.</summary>
    public int[] Quantize(ReadOnlySpan<float> modalityValues) =>
        DicomPixelConverter.Quantize(modalityValues, new DicomStoreOptions(BitsStored, Signed, RescaleSlope, RescaleIntercept)).Values;

    /// <summary>The values this encoding can hold, in modality units.</summary>
    public ValueRange Range => ValueRange.OfStored(BitsStored, Signed, RescaleSlope, RescaleIntercept);

    public DicomStoredPixels Pack(ReadOnlySpan<int> stored) => DicomPixelConverter.Pack(stored, BitsStored, Signed, RescaleSlope, RescaleIntercept);
}

/// <summary>The one owner of "known pixels stay exact": where a mask says known, the result takes the source's value.</summary>
public static class KnownPixels
{
    public static void Keep<T>(Span<T> result, ReadOnlySpan<T> source, ReadOnlySpan<bool> unknown)
    {
        if (result.Length != source.Length || unknown.Length != source.Length)
            throw new ImagingException($"a result of {result.Length} pixels, a source of {source.Length} and a mask of {unknown.Length} do not match");
        for (var i = 0; i < unknown.Length; i++)
            if (!unknown[i]) result[i] = source[i];
    }
}
