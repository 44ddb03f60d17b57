using MedfusionDicom.Imaging;

namespace MedfusionDicom.Diffusion.Evaluation;

/// <summary>The classic methods the diffusion models must beat: median filtering, bicubic interpolation, harmonic fill.</summary>
public static class ClassicBaselines
{
    /// <summary>3x3 (or larger, odd) median filter with edge replication.</summary>
    public static Image2D Median(Image2D img, int size = 3)
    {
        if (size < 1 || size % 2 == 0) throw new ArgumentException($"median window {size} must be odd and positive");
        var r = size / 2;
        var result = new Image2D(img.Width, img.Height);
        var window = new float[size * size];
        for (var y = 0; y < img.Height; y++)
        for (var x = 0; x < img.Width; x++)
        {
            var n = 0;
            for (var dy = -r; dy <= r; dy++)
            for (var dx = -r; dx <= r; dx++)
                window[n++] = img.Clamped(x + dx, y + dy);
            Array.Sort(window);
            result[x, y] = window[window.Length / 2];
        }
        return result;
    }

    /// <summary>Bicubic resampling (Keys kernel, a = -0.75) with half-pixel centres, as PyTorch (align_corners=False) and OpenCV.</summary>
    public static Image2D Bicubic(Image2D img, int width, int height)
    {
        var result = new Image2D(width, height);
        var sx = (double)img.Width / width;
        var sy = (double)img.Height / height;
        Span<double> wx = stackalloc double[4];
        Span<double> wy = stackalloc double[4];
        for (var y = 0; y < height; y++)
        {
            var fy = (y + 0.5) * sy - 0.5;
            var iy = (int)Math.Floor(fy);
            Weights(fy - iy, wy);
            for (var x = 0; x < width; x++)
            {
                var fx = (x + 0.5) * sx - 0.5;
                var ix = (int)Math.Floor(fx);
                Weights(fx - ix, wx);
                double s = 0;
                for (var j = 0; j < 4; j++)
                for (var i = 0; i < 4; i++)
                    s += wy[j] * wx[i] * img.Clamped(ix - 1 + i, iy - 1 + j);
                result[x, y] = (float)s;
            }
        }
        return result;
    }

    private static void Weights(double t, Span<double> w)
    {
        const double a = -0.75; // PyTorch's and OpenCV's bicubic constant
        static double Near(double x, double a) => ((a + 2) * x - (a + 3)) * x * x + 1;
        static double Far(double x, double a) => ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
        w[0] = Far(t + 1, a);
        w[1] = Near(t, a);
        w[2] = Near(1 - t, a);
        w[3] = Far(2 - t, a);
    }
}
