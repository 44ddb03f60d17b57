namespace MedfusionDicom.Imaging;

/// <summary>Inpainting masks: one bool per pixel, row-major, true where the pixel is unknown (to be generated).</summary>
public static class ImageMask
{
    /// <summary>A rectangle of unknown pixels.</summary>
    public static bool[] Box(int width, int height, int x, int y, int w, int h)
    {
        if (w <= 0 || h <= 0 || x < 0 || y < 0 || x + w > width || y + h > height)
            throw new ImagingException($"box {x},{y},{w},{h} is not inside the {width}x{height} image");
        var mask = new bool[width * height];
        for (var j = y; j < y + h; j++)
            Array.Fill(mask, true, j * width + x, w);
        return mask;
    }

    /// <summary>The mask's pixels inside a window of the image (row-major within the window).</summary>
    public static bool[] Crop(bool[] mask, int width, int x, int y, int w, int h)
    {
        var result = new bool[w * h];
        for (var j = 0; j < h; j++) Array.Copy(mask, (y + j) * width + x, result, j * w, w);
        return result;
    }

    public static bool AnyUnknown(ReadOnlySpan<bool> mask) => mask.Contains(true);

    /// <summary>A mask the models can work with: something to fill and something to fill it from.</summary>
    public static void Validate(ReadOnlySpan<bool> mask, int width, int height, string what = "mask")
    {
        if (mask.Length != width * height)
            throw new ImagingException($"the {what} has {mask.Length} pixels; the {width}x{height} image has {width * height}");
        if (!mask.Contains(true)) throw new ImagingException($"the {what} marks no pixel to inpaint (it is all zero)");
        if (!mask.Contains(false)) throw new ImagingException($"the {what} covers the whole image: nothing is known to inpaint from");
    }
}
