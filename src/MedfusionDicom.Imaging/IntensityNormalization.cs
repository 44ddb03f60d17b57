using MedfusionDicom.Dicom.Imaging;

namespace MedfusionDicom.Imaging;

/// <summary>How a model's images map to its [-1, 1] space.</summary>
public enum IntensityMode
{
    /// <summary>Each image's own minimum and maximum map to -1 and +1 (Med-cDiff normalises per image).</summary>
    MinMax,
    /// <summary>A fixed range [Low, High] maps to [-1, 1], values outside it are clipped (an 8-bit training set: 0..255).</summary>
    Fixed,
    /// <summary>
    /// The range the image's encoding can hold maps to [-1, 1]: 0..255 for 8 bits stored, 0..4095 for 12, through the
    /// Modality LUT. A model trained on 8-bit images normalised by /127.5 - 1 sees DICOM images this way as it saw them.
    /// </summary>
    StoredRange,
}

/// <summary>The lowest and highest value an image's encoding can hold, in modality units.</summary>
public readonly record struct ValueRange(double Low, double High)
{
    /// <summary>The range of Bits Stored (signed or not) through a Modality LUT of this slope and intercept.</summary>
    public static ValueRange OfStored(int bitsStored, bool signed, double slope = 1, double intercept = 0)
    {
        var (lo, hi) = DicomPixelConverter.StoredRange(bitsStored, signed);
        double a = lo * slope + intercept, b = hi * slope + intercept;
        return new ValueRange(Math.Min(a, b), Math.Max(a, b));
    }
}

/// <summary>
/// The intensity convention a model was trained with. It is recorded in the model's card and applied by
/// <see cref="IntensityWindow"/> only, so training data, the CLI, the worker and the gateway all feed a model what it saw.
/// </summary>
public sealed record IntensityNormalization
{
    public IntensityMode Mode { get; init; } = IntensityMode.MinMax;

    /// <summary>The range of <see cref="IntensityMode.Fixed"/>; for a generative model, also the range its outputs are written in.</summary>
    public double Low { get; init; }
    public double High { get; init; } = 255;

    public static IntensityNormalization PerImage { get; } = new();
    public static IntensityNormalization OfStoredRange { get; } = new() { Mode = IntensityMode.StoredRange };
    public static IntensityNormalization Range(double low, double high) => new() { Mode = IntensityMode.Fixed, Low = low, High = high };

    public void Validate(string where)
    {
        if (Mode == IntensityMode.Fixed && !(double.IsFinite(Low) && double.IsFinite(High) && High > Low))
            throw new ImagingException($"{where}: a fixed intensity range needs finite low < high, not {Low}..{High}");
    }

    /// <summary>
    /// The window for an image of these modality values whose encoding holds <paramref name="storedRange"/> (null: not
    /// known, e.g. float data); MONOCHROME1 images are inverted so that bright means dense.
    /// </summary>
    public IntensityWindow WindowFor(ReadOnlySpan<float> values, bool monochrome1, ValueRange? storedRange)
    {
        if (Mode == IntensityMode.Fixed) return new IntensityWindow(Low, High, monochrome1);
        if (Mode == IntensityMode.StoredRange)
        {
            var range = storedRange ?? throw new ImagingException(
                "this model takes images scaled by the range their encoding holds (Bits Stored), and this image has none (float values): send stored integer values");
            return new IntensityWindow(range.Low, range.High, monochrome1);
        }
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        foreach (var v in values)
        {
            if (!float.IsFinite(v)) throw new ImagingException($"the image holds a non-finite value ({v})");
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        if (values.IsEmpty) (lo, hi) = (0, 1);
        // A constant image has no range to spread: it maps to -1, and back to itself.
        return new IntensityWindow(lo, hi > lo ? hi : lo + 1, monochrome1);
    }
}

/// <summary>
/// One image's mapping between modality values and model space: [Low, High] onto [-1, 1], negated for MONOCHROME1.
/// The inversion is applied here once on the way in and undone here once on the way out.
/// </summary>
public readonly record struct IntensityWindow(double Low, double High, bool Inverted)
{
    private double Half => (High - Low) / 2;
    private double Centre => (High + Low) / 2;

    public Image2D ToModel(ReadOnlySpan<float> values, int width, int height)
    {
        var image = new Image2D(width, height);
        if (values.Length != image.Data.Length) throw new ImagingException($"{values.Length} values do not make a {width}x{height} image");
        ToModel(values, image.Data);
        return image;
    }

    /// <summary>Modality values into model space, a span at a time.</summary>
    public void ToModel(ReadOnlySpan<float> values, Span<float> model)
    {
        double sign = Inverted ? -1 : 1, scale = sign / Half, centre = Centre;
        for (var i = 0; i < values.Length; i++) model[i] = (float)Math.Clamp((values[i] - centre) * scale, -1.0, 1.0);
    }

    /// <summary>Model output (clipped to [-1, 1]) as modality values.</summary>
    public float[] FromModel(Image2D image)
    {
        var result = new float[image.Data.Length];
        FromModel(image.Data, result);
        return result;
    }

    /// <summary>Model output (clipped to [-1, 1]) as modality values, a span at a time.</summary>
    public void FromModel(ReadOnlySpan<float> model, Span<float> values)
    {
        double scale = (Inverted ? -1 : 1) * Half, centre = Centre;
        for (var i = 0; i < model.Length; i++) values[i] = (float)(Math.Clamp(model[i], -1f, 1f) * scale + centre);
    }
}
