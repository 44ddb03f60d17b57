using System.Runtime.InteropServices;
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

    /// <summary>A frame in a model's space under its intensity convention (Modality LUT, MONOCHROME1 inverted), at its own size.</summary>
    public Image2D ModelImage(int frame, IntensityNormalization intensity)
    {
        var values = ModalityValues(frame);
        return intensity.WindowFor(values, IsMonochrome1, Encoding.Range).ToModel(values, Width, Height);
    }
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

    /// <summary>The stored values packed in the encoding derived images are written in (<see cref="StoredEncoding.Pack"/>'s layout).</summary>
    public DicomStoredPixels PackedStoredValues() =>
        DicomPixelConverter.PackStoredValues(_data.Span, _description, _encoding.RescaleSlope, _encoding.RescaleIntercept);
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

    /// <summary>Bytes a sample takes when packed: 1 up to 8 bits stored, else 2.</summary>
    public int BytesPerSample => BitsStored <= 8 ? 1 : 2;

    /// <summary>
    /// A model's output brought back through its window and packed in this encoding. The modality values are made and
    /// quantized a block of pixels at a time, so no whole-image array stands between the output and its samples.
    /// </summary>
    public DicomStoredPixels PackModelOutput(Image2D output, IntensityWindow window)
    {
        const int block = 4096;
        var data = new byte[output.Data.Length * BytesPerSample];
        Span<float> values = stackalloc float[block];
        var clamped = 0;
        for (var start = 0; start < output.Data.Length; start += block)
        {
            var n = Math.Min(block, output.Data.Length - start);
            window.FromModel(output.Data.AsSpan(start, n), values[..n]);
            clamped += DicomPixelConverter.QuantizeInto(values[..n], data.AsSpan(start * BytesPerSample), BitsStored, Signed, RescaleSlope, RescaleIntercept, start);
        }
        return new DicomStoredPixels(data, BytesPerSample * 8, BitsStored, BitsStored - 1, Signed ? 1 : 0, RescaleSlope, RescaleIntercept, clamped);
    }

    /// <summary>Samples packed in this encoding that came from elsewhere (a worker), each checked to fit it.</summary>
    public DicomStoredPixels FromPacked(byte[] data) => DicomPixelConverter.FromPacked(data, BitsStored, Signed, RescaleSlope, RescaleIntercept);
}

/// <summary>The one owner of "known pixels stay exact": where a mask says known, the result takes the source's value.</summary>
public static class KnownPixels
{
    /// <summary>The same on packed samples of <paramref name="bytesPerSample"/> bytes (1, 2 or 4), whatever they encode.</summary>
    public static void KeepSamples(Span<byte> result, ReadOnlySpan<byte> source, int bytesPerSample, ReadOnlySpan<bool> unknown)
    {
        switch (bytesPerSample)
        {
            case 1: Keep(result, source, unknown); break;
            case 2: Keep(MemoryMarshal.Cast<byte, ushort>(result), MemoryMarshal.Cast<byte, ushort>(source), unknown); break;
            case 4: Keep(MemoryMarshal.Cast<byte, uint>(result), MemoryMarshal.Cast<byte, uint>(source), unknown); break;
            default: throw new ImagingException($"samples of {bytesPerSample} bytes: 1, 2 or 4 were expected");
        }
    }

    public static void Keep<T>(Span<T> result, ReadOnlySpan<T> source, ReadOnlySpan<bool> unknown)
    {
        if (result.Length != source.Length || unknown.Length != source.Length)
            throw new ImagingException($"a result of {result.Length} pixels, a source of {source.Length} and a mask of {unknown.Length} do not match");
        for (var i = 0; i < unknown.Length; i++)
            if (!unknown[i]) result[i] = source[i];
    }
}
