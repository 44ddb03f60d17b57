namespace MedfusionDicom.Imaging;

/// <summary>What a model takes: single-channel images in [-1, 1] under its intensity convention, best at its window size.</summary>
public sealed record ModelImageSpec
{
    /// <summary>The side of the images the model was trained on, in output pixels: the tile size when an image is tiled.</summary>
    public required int WindowSize { get; init; }

    /// <summary>Output pixels per input pixel along each axis (super-resolution); 1 otherwise.</summary>
    public int Scale { get; init; } = 1;

    /// <summary>The model fills masked pixels (inpainting), so a mask comes with every image.</summary>
    public bool TakesMask { get; init; }

    public IntensityNormalization Intensity { get; init; } = IntensityNormalization.PerImage;

    /// <summary>Peak working memory of one forward pass per output pixel, in bytes: what the memory budget is checked against.</summary>
    public long BytesPerPixel { get; init; } = 4096;

    public int InputWindowSize => Math.Max(1, WindowSize / Scale);

    public void Validate(string where)
    {
        if (WindowSize < 1) throw new ImagingException($"{where}: window size {WindowSize} must be positive");
        if (Scale < 1 || WindowSize % Scale != 0) throw new ImagingException($"{where}: scale {Scale} must be positive and divide the window size {WindowSize}");
        if (BytesPerPixel < 1) throw new ImagingException($"{where}: bytes per pixel {BytesPerPixel} must be positive");
        Intensity.Validate(where);
    }
}

/// <summary>
/// One window of an image, as a model gets it: the input, its mask (true = unknown) for a model that
/// <see cref="ModelImageSpec.TakesMask"/>, and where the window lies in its image's output (in output pixels) with the
/// image's noise seed. A model that draws noise draws it as a function of the seed and the output pixel, so every
/// window covering a pixel sees the same noise there: windows with noise of their own would disagree in their overlap
/// for no reason but the noise.
/// </summary>
public sealed record ModelWindow(Image2D Input, bool[]? Mask, long NoiseSeed, int OutputX, int OutputY);

/// <summary>
/// A model that maps images in its space to images in its space: inputs of one size per call, outputs Scale times larger.
/// Implementations run the windows of one call as one batch.
/// </summary>
public interface IImageModel
{
    ModelImageSpec Spec { get; }

    IReadOnlyList<Image2D> Run(IReadOnlyList<ModelWindow> windows, CancellationToken cancellationToken);

    /// <summary>A fresh noise seed for one image of a call (a deterministic model may return anything).</summary>
    long NewNoiseSeed();
}
