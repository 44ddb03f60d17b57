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
/// A model that maps images in its space to images in its space: inputs of one size per call, outputs Scale times larger,
/// masks (true = unknown) for a model that <see cref="ModelImageSpec.TakesMask"/>. Implementations run the images as one batch.
/// </summary>
public interface IImageModel
{
    ModelImageSpec Spec { get; }

    IReadOnlyList<Image2D> Run(IReadOnlyList<Image2D> inputs, IReadOnlyList<bool[]?> masks, CancellationToken cancellationToken);
}
