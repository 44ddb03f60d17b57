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
    public static double Ssim(Image2D a, Image2D b, double dataRange = 2.0) => new SsimReference(a, dataRange).Ssim(b);

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

    private static readonly float[] Kernel = GaussianKernel(1.5, 5);

    private static float[] GaussianKernel(double sigma, int radius)
    {
        var k = new float[2 * radius + 1];
        double sum = 0;
        for (var i = -radius; i <= radius; i++) sum += k[i + radius] = (float)Math.Exp(-i * i / (2 * sigma * sigma));
        for (var i = 0; i < k.Length; i++) k[i] /= (float)sum;
        return k;
    }

    /// <summary>Separable Gaussian blur with edge replication of width x height values, into <paramref name="result"/>.</summary>
    internal static void Blur(ReadOnlySpan<float> image, int width, int height, Span<float> result, Span<float> scratch)
    {
        var r = Kernel.Length / 2;
        for (var y = 0; y < height; y++)
        {
            var row = image.Slice(y * width, width);
            for (var x = 0; x < width; x++)
            {
                float s = 0;
                if (x >= r && x < width - r)
                    for (var k = 0; k < Kernel.Length; k++) s += Kernel[k] * row[x - r + k];
                else
                    for (var k = -r; k <= r; k++) s += Kernel[k + r] * row[Math.Clamp(x + k, 0, width - 1)];
                scratch[y * width + x] = s;
            }
        }
        for (var y = 0; y < height; y++)
        {
            var output = result.Slice(y * width, width);
            output.Clear();
            for (var k = -r; k <= r; k++)
            {
                var source = scratch.Slice(Math.Clamp(y + k, 0, height - 1) * width, width);
                var weight = Kernel[k + r];
                for (var x = 0; x < width; x++) output[x] += weight * source[x];
            }
        }
    }

    private static void SameSize(Image2D a, Image2D b)
    {
        if (a.Width != b.Width || a.Height != b.Height) throw new ArgumentException($"images differ in size: {a.Width}x{a.Height} vs {b.Width}x{b.Height}");
    }
}

/// <summary>
/// One image's SSIM statistics (local means and second moments), made once and compared with many images: the
/// memorization screen scores each sample against dozens of training images.
/// </summary>
public sealed class SsimReference
{
    // Skip the border that the window does not fully cover, as scikit-image does.
    private const int Pad = 5;
    private readonly int _width, _height;
    private readonly float[] _image, _mean, _square;
    private readonly double _c1, _c2;

    public SsimReference(Image2D image, double dataRange = 2.0)
    {
        _width = image.Width;
        _height = image.Height;
        if (_width <= 2 * Pad || _height <= 2 * Pad) throw new ArgumentException($"image {_width}x{_height} is smaller than the SSIM window");
        _image = image.Data;
        _mean = new float[_image.Length];
        _square = new float[_image.Length];
        var scratch = new float[_image.Length];
        ImageMetrics.Blur(_image, _width, _height, _mean, scratch);
        var product = new float[_image.Length];
        for (var i = 0; i < product.Length; i++) product[i] = _image[i] * _image[i];
        ImageMetrics.Blur(product, _width, _height, _square, scratch);
        _c1 = Math.Pow(0.01 * dataRange, 2);
        _c2 = Math.Pow(0.03 * dataRange, 2);
    }

    /// <summary>Mean SSIM of the reference and <paramref name="other"/> (same size).</summary>
    public double Ssim(Image2D other)
    {
        if (other.Width != _width || other.Height != _height) throw new ArgumentException($"images differ in size: {_width}x{_height} vs {other.Width}x{other.Height}");
        var b = other.Data;
        var n = b.Length;
        var scratch = new float[n];
        var mean = new float[n];
        var square = new float[n];
        var cross = new float[n];
        var product = new float[n];
        ImageMetrics.Blur(b, _width, _height, mean, scratch);
        for (var i = 0; i < n; i++) product[i] = b[i] * b[i];
        ImageMetrics.Blur(product, _width, _height, square, scratch);
        for (var i = 0; i < n; i++) product[i] = _image[i] * b[i];
        ImageMetrics.Blur(product, _width, _height, cross, scratch);
        double total = 0;
        for (var y = Pad; y < _height - Pad; y++)
        for (var x = Pad; x < _width - Pad; x++)
        {
            var i = y * _width + x;
            double mu1 = _mean[i], mu2 = mean[i];
            var s1 = _square[i] - mu1 * mu1;
            var s2 = square[i] - mu2 * mu2;
            var s12 = cross[i] - mu1 * mu2;
            total += (2 * mu1 * mu2 + _c1) * (2 * s12 + _c2) / ((mu1 * mu1 + mu2 * mu2 + _c1) * (s1 + s2 + _c2));
        }
        return total / ((_height - 2 * Pad) * (_width - 2 * Pad));
    }
}
