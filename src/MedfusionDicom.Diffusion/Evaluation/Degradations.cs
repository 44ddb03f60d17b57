using MedfusionDicom.Imaging;

namespace MedfusionDicom.Diffusion.Evaluation;

/// <summary>
/// The corruptions the restoration models are trained and evaluated on. Med-cDiff adds Gaussian plus salt-and-pepper
/// noise to chest radiographs without giving levels; ours are fixed here so every run and report uses the same ones.
/// </summary>
public static class Degradations
{
    /// <summary>Standard deviation of the Gaussian noise on images in [-1, 1].</summary>
    public const double GaussianSigma = 0.1;
    /// <summary>Fraction of pixels set to -1 or +1.</summary>
    public const double SaltAndPepperFraction = 0.02;

    public static Image2D AddNoise(Image2D clean, Random rng, double sigma = GaussianSigma, double saltPepper = SaltAndPepperFraction)
    {
        var result = clean.Clone();
        for (var i = 0; i < result.Data.Length; i++)
        {
            var v = result.Data[i] + sigma * Gaussian(rng);
            var u = rng.NextDouble();
            if (u < saltPepper / 2) v = -1;
            else if (u < saltPepper) v = 1;
            result.Data[i] = (float)Math.Clamp(v, -1, 1);
        }
        return result;
    }

    /// <summary>Area-average downsampling by an integer factor (what a lower-resolution detector would record).</summary>
    public static Image2D Downsample(Image2D img, int factor)
    {
        if (factor < 1 || img.Width % factor != 0 || img.Height % factor != 0)
            throw new ArgumentException($"cannot downsample {img.Width}x{img.Height} by {factor}");
        var result = new Image2D(img.Width / factor, img.Height / factor);
        for (var y = 0; y < result.Height; y++)
        for (var x = 0; x < result.Width; x++)
        {
            float s = 0;
            for (var dy = 0; dy < factor; dy++)
            for (var dx = 0; dx < factor; dx++)
                s += img[x * factor + dx, y * factor + dy];
            result[x, y] = s / (factor * factor);
        }
        return result;
    }

    private static double Gaussian(Random rng)
    {
        var u1 = 1.0 - rng.NextDouble();
        var u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
