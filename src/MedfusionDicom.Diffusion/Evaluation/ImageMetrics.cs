using MedfusionDicom.Imaging;

namespace MedfusionDicom.Diffusion.Evaluation;

/// <summary>Full-reference image quality metrics, computed as scikit-image computes them.</summary>
public static class ImageMetrics
{
    /// <summary>Peak signal-to-noise ratio in dB for images whose values span <paramref name="dataRange"/>.</summary>
    public static double Psnr(Image2D reference, Image2D test, double dataRange = 2.0, bool[]? mask = null)
    {
        SameSize(reference, test);
        double sum = 0;
        long n = 0;
        for (var i = 0; i < reference.Data.Length; i++)
        {
            if (mask is not null && !mask[i]) continue;
            var d = (double)reference.Data[i] - test.Data[i];
            sum += d * d;
            n++;
        }
        if (n == 0) throw new ArgumentException("the mask selects no pixels");
        var mse = sum / n;
        return mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(dataRange * dataRange / mse);
    }

    /// <summary>Mean SSIM with a Gaussian window (sigma 1.5, 11x11), K1 0.01, K2 0.03 (Wang et al. 2004).</summary>
    public static double Ssim(Image2D a, Image2D b, double dataRange = 2.0)
    {
        SameSize(a, b);
        var ax = Blur(a);
        var bx = Blur(b);
        var aa = Blur(Product(a, a));
        var bb = Blur(Product(b, b));
        var ab = Blur(Product(a, b));
        var c1 = Math.Pow(0.01 * dataRange, 2);
        var c2 = Math.Pow(0.03 * dataRange, 2);
        double total = 0;
        var n = 0;
        // Skip the border that the window does not fully cover, as scikit-image does.
        const int pad = 5;
        for (var y = pad; y < a.Height - pad; y++)
        for (var x = pad; x < a.Width - pad; x++)
        {
            var i = y * a.Width + x;
            double mu1 = ax.Data[i], mu2 = bx.Data[i];
            var s1 = aa.Data[i] - mu1 * mu1;
            var s2 = bb.Data[i] - mu2 * mu2;
            var s12 = ab.Data[i] - mu1 * mu2;
            total += (2 * mu1 * mu2 + c1) * (2 * s12 + c2) / ((mu1 * mu1 + mu2 * mu2 + c1) * (s1 + s2 + c2));
            n++;
        }
        return n == 0 ? throw new ArgumentException($"image {a.Width}x{a.Height} is smaller than the SSIM window") : total / n;
    }

    /// <summary>Mean gradient magnitude (central differences), over the mask's pixels when one is given: a plain measure of sharpness and texture.</summary>
    public static double MeanGradientMagnitude(Image2D img, bool[]? mask = null)
    {
        if (mask is not null && mask.Length != img.Data.Length) throw new ArgumentException("mask and image differ in size");
        double total = 0;
        long n = 0;
        for (var y = 0; y < img.Height; y++)
        for (var x = 0; x < img.Width; x++)
        {
            if (mask is not null && !mask[y * img.Width + x]) continue;
            n++;
            var gx = (img.Clamped(x + 1, y) - img.Clamped(x - 1, y)) / 2.0;
            var gy = (img.Clamped(x, y + 1) - img.Clamped(x, y - 1)) / 2.0;
            total += Math.Sqrt(gx * gx + gy * gy);
        }
        return total / Math.Max(n, 1);
    }

    private static Image2D Product(Image2D a, Image2D b)
    {
        var r = new Image2D(a.Width, a.Height);
        for (var i = 0; i < r.Data.Length; i++) r.Data[i] = a.Data[i] * b.Data[i];
        return r;
    }

    private static readonly float[] Kernel = GaussianKernel(1.5, 5);

    private static float[] GaussianKernel(double sigma, int radius)
    {
        var k = new float[2 * radius + 1];
        double sum = 0;
        for (var i = -radius; i <= radius; i++) sum += k[i + radius] = (float)Math.Exp(-i * i / (2 * sigma * sigma));
        for (var i = 0; i < k.Length; i++) k[i] /= (float)sum;
        return k;
    }

    /// <summary>Separable Gaussian blur with edge replication.</summary>
    private static Image2D Blur(Image2D img)
    {
        var r = Kernel.Length / 2;
        var tmp = new Image2D(img.Width, img.Height);
        for (var y = 0; y < img.Height; y++)
        for (var x = 0; x < img.Width; x++)
        {
            float s = 0;
            for (var k = -r; k <= r; k++) s += Kernel[k + r] * img.Clamped(x + k, y);
            tmp[x, y] = s;
        }
        var result = new Image2D(img.Width, img.Height);
        for (var y = 0; y < img.Height; y++)
        for (var x = 0; x < img.Width; x++)
        {
            float s = 0;
            for (var k = -r; k <= r; k++) s += Kernel[k + r] * tmp.Clamped(x, y + k);
            result[x, y] = s;
        }
        return result;
    }

    private static void SameSize(Image2D a, Image2D b)
    {
        if (a.Width != b.Width || a.Height != b.Height) throw new ArgumentException($"images differ in size: {a.Width}x{a.Height} vs {b.Width}x{b.Height}");
    }
}
