namespace MedfusionDicom.Imaging;

/// <summary>Resampling of model-space images.</summary>
public static class ImageResize
{
    /// <summary>Bilinear resampling with pixel centres aligned (align_corners = false).</summary>
    public static Image2D Bilinear(Image2D src, int width, int height)
    {
        if (src.Width == width && src.Height == height) return src.Clone();
        var dst = new Image2D(width, height);
        int w = src.Width, h = src.Height;
        for (var y = 0; y < height; y++)
        {
            var sy = Math.Clamp((y + 0.5) * h / height - 0.5, 0, h - 1);
            int y0 = (int)sy, y1 = Math.Min(y0 + 1, h - 1);
            var fy = sy - y0;
            for (var x = 0; x < width; x++)
            {
                var sx = Math.Clamp((x + 0.5) * w / width - 0.5, 0, w - 1);
                int x0 = (int)sx, x1 = Math.Min(x0 + 1, w - 1);
                var fx = sx - x0;
                var top = src[x0, y0] * (1 - fx) + src[x1, y0] * fx;
                var bottom = src[x0, y1] * (1 - fx) + src[x1, y1] * fx;
                dst[x, y] = (float)(top * (1 - fy) + bottom * fy);
            }
        }
        return dst;
    }
}
