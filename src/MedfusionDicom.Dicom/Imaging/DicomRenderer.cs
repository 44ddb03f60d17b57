namespace MedfusionDicom.Dicom.Imaging;

/// <summary>The VOI LUT Function of a window (0028,1056): PS3.3 C.11.2.1.2 (LINEAR) and C.11.2.1.3 (LINEAR_EXACT, SIGMOID).</summary>
public enum DicomVoiFunction { Linear, LinearExact, Sigmoid }

/// <summary>A VOI window in modality units: Window Center, Window Width and the function between them.</summary>
public readonly record struct DicomVoiWindow(double Center, double Width, DicomVoiFunction Function = DicomVoiFunction.Linear)
{
    /// <summary>A modality value as a display value in 0..1, by the standard's formula for the function.</summary>
    public double Apply(double x)
    {
        double c = Center, w = Width;
        return Function switch
        {
            DicomVoiFunction.Linear => x <= c - 0.5 - (w - 1) / 2 ? 0 : x > c - 0.5 + (w - 1) / 2 ? 1 : (x - (c - 0.5)) / (w - 1) + 0.5,
            DicomVoiFunction.LinearExact => x <= c - w / 2 ? 0 : x > c + w / 2 ? 1 : (x - c) / w + 0.5,
            _ => 1 / (1 + Math.Exp(-4 * (x - c) / w)),
        };
    }

    /// <summary>Checks the width the function needs: at least 1 for LINEAR, above 0 otherwise (PS3.3 C.11.2.1.2).</summary>
    public DicomVoiWindow Validated()
    {
        if (!double.IsFinite(Center) || !double.IsFinite(Width) || (Function == DicomVoiFunction.Linear ? Width < 1 : Width <= 0))
            throw new DicomCodecException($"window center {Center}, width {Width} is not a {Function} window (its width must be {(Function == DicomVoiFunction.Linear ? "at least 1" : "above 0")})");
        return this;
    }

    /// <summary>The function's name as (0028,1056) and PS3.18's window parameter spell it.</summary>
    public static DicomVoiFunction ParseFunction(string text) => text.Trim().ToUpperInvariant() switch
    {
        "" or "LINEAR" => DicomVoiFunction.Linear,
        "LINEAR_EXACT" or "LINEAR-EXACT" => DicomVoiFunction.LinearExact,
        "SIGMOID" => DicomVoiFunction.Sigmoid,
        var other => throw new DicomCodecException($"'{other}' is not a VOI LUT function (LINEAR, LINEAR_EXACT or SIGMOID)"),
    };

    /// <summary>The first window the dataset gives (Window Center and Width, with its VOI LUT Function), or null when it gives none.</summary>
    public static DicomVoiWindow? FromDataset(DicomDataset dataset)
    {
        if (!dataset.Contains(DicomTag.WindowCenter) || !dataset.Contains(DicomTag.WindowWidth)) return null;
        var center = dataset.GetValues<double>(DicomTag.WindowCenter);
        var width = dataset.GetValues<double>(DicomTag.WindowWidth);
        if (center.Length == 0 || width.Length == 0) return null;
        return new DicomVoiWindow(center[0], width[0], ParseFunction(dataset.GetStringOrDefault(DicomTag.VOILUTFunction))).Validated();
    }

    /// <summary>A LINEAR_EXACT window over the values' own range: what a frame without a window is shown with.</summary>
    public static DicomVoiWindow OfRange(ReadOnlySpan<float> values)
    {
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        foreach (var v in values)
        {
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        if (values.IsEmpty) (lo, hi) = (0, 1);
        return new DicomVoiWindow((lo + (double)hi) / 2, Math.Max(hi - (double)lo, 1), DicomVoiFunction.LinearExact);
    }
}

/// <summary>A region of a frame in its pixels, and the viewport (the largest output size) it is scaled to fit.</summary>
public sealed record DicomRenderOptions
{
    /// <summary>The window to show a grayscale frame with; null: the dataset's first window, else the frame's range.</summary>
    public DicomVoiWindow? Window { get; init; }

    /// <summary>Output width and height at most; the region is scaled to fit, its aspect kept. Null: the region's size.</summary>
    public (int Width, int Height)? Viewport { get; init; }

    /// <summary>The viewport only shrinks: a region smaller than it keeps its size (a thumbnail of a small image).</summary>
    public bool ShrinkOnly { get; init; }

    /// <summary>The part of the frame shown (x, y, width, height); null: the whole frame.</summary>
    public (int X, int Y, int Width, int Height)? Region { get; init; }
}

/// <summary>A rendered frame: 8-bit display values, row-major, one channel (grayscale) or three (RGB).</summary>
public sealed record DicomRenderedFrame(int Width, int Height, int Channels, byte[] Pixels);

/// <summary>
/// Renders a frame for display: the Modality LUT, then the VOI window (PS3.3 C.11.2) for grayscale, MONOCHROME1 shown
/// inverted, colour as RGB; then the region scaled to fit the viewport by averaging the source pixels each output
/// pixel covers. What PS3.18's rendered resources and thumbnails show.
/// </summary>
public static class DicomRenderer
{
    public static DicomRenderedFrame Render(DicomDataset dataset, int frame, DicomRenderOptions? options = null, DicomCodecRegistry? codecs = null)
    {
        options ??= new DicomRenderOptions();
        var pixels = DicomPixelData.Create(dataset);
        if (frame < 0 || frame >= pixels.Description.NumberOfFrames)
            throw new DicomCodecException($"frame {frame + 1} does not exist: the instance has {pixels.Description.NumberOfFrames} frame(s)");
        var (data, description) = pixels.GetNativeFrame(frame, codecs);
        var converted = DicomPixelConverter.ToFloat32(data.Span, description,
            dataset.GetSingleValueOrDefault(DicomTag.RescaleSlope, 1.0), dataset.GetSingleValueOrDefault(DicomTag.RescaleIntercept, 0.0));
        int width = description.Columns, height = description.Rows, channels = converted.Channels;
        var display = new byte[converted.Data.Length];
        if (channels == 1)
        {
            var window = (options.Window ?? DicomVoiWindow.FromDataset(dataset) ?? DicomVoiWindow.OfRange(converted.Data)).Validated();
            for (var i = 0; i < display.Length; i++)
            {
                var v = (byte)Math.Round(255 * window.Apply(converted.Data[i]));
                display[i] = converted.IsInverted ? (byte)(255 - v) : v;
            }
        }
        else
        {
            for (var i = 0; i < display.Length; i++) display[i] = (byte)Math.Clamp(Math.Round(converted.Data[i]), 0, 255);
        }

        var (rx, ry, rw, rh) = options.Region ?? (0, 0, width, height);
        if (rw < 1 || rh < 1 || rx < 0 || ry < 0 || rx + rw > width || ry + rh > height)
            throw new DicomCodecException($"region {rx},{ry} {rw}x{rh} is not within the {width}x{height} frame");
        var (outWidth, outHeight) = Fit(rw, rh, options.Viewport, options.ShrinkOnly);
        return new DicomRenderedFrame(outWidth, outHeight, channels, Resample(display, width, channels, rx, ry, rw, rh, outWidth, outHeight));
    }

    /// <summary>The largest size of the region's aspect within the viewport (at least 1 x 1); the region's own size without one.</summary>
    internal static (int Width, int Height) Fit(int width, int height, (int Width, int Height)? viewport, bool shrinkOnly = false)
    {
        if (viewport is not { } v) return (width, height);
        if (v.Width < 1 || v.Height < 1) throw new DicomCodecException($"viewport {v.Width}x{v.Height} must be at least 1x1");
        var scale = Math.Min(v.Width / (double)width, v.Height / (double)height);
        if (shrinkOnly && scale >= 1) return (width, height);
        return (Math.Clamp((int)Math.Round(width * scale), 1, v.Width), Math.Clamp((int)Math.Round(height * scale), 1, v.Height));
    }

    /// <summary>Each output pixel is the mean of the source pixels its footprint covers (at least the nearest one).</summary>
    private static byte[] Resample(byte[] source, int sourceWidth, int channels, int rx, int ry, int rw, int rh, int outWidth, int outHeight)
    {
        if (rx == 0 && ry == 0 && rw == outWidth && rh == outHeight && rw == sourceWidth) return source;
        var result = new byte[outWidth * outHeight * channels];
        for (var oy = 0; oy < outHeight; oy++)
        {
            int y0 = ry + (int)((long)oy * rh / outHeight), y1 = Math.Max(y0 + 1, ry + (int)((long)(oy + 1) * rh / outHeight));
            for (var ox = 0; ox < outWidth; ox++)
            {
                int x0 = rx + (int)((long)ox * rw / outWidth), x1 = Math.Max(x0 + 1, rx + (int)((long)(ox + 1) * rw / outWidth));
                for (var c = 0; c < channels; c++)
                {
                    long sum = 0;
                    for (var y = y0; y < y1; y++)
                    for (var x = x0; x < x1; x++)
                        sum += source[(y * sourceWidth + x) * channels + c];
                    result[(oy * outWidth + ox) * channels + c] = (byte)((sum + (y1 - y0) * (x1 - x0) / 2) / ((y1 - y0) * (x1 - x0)));
                }
            }
        }
        return result;
    }
}
