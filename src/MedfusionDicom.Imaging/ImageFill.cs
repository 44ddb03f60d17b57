namespace MedfusionDicom.Imaging;

/// <summary>Classic fills of unknown pixels: what inpainting is conditioned on and measured against.</summary>
public static class ImageFill
{
    /// <summary>
    /// Fills the masked pixels with the harmonic (Laplace) interpolant of their surroundings: the smoothest fill that
    /// matches the known border, solved by Gauss-Seidel relaxation with over-relaxation until it settles.
    /// </summary>
    public static Image2D Harmonic(Image2D img, bool[] mask, int maxIterations = 5000, double tolerance = 1e-6)
    {
        if (mask.Length != img.Data.Length) throw new ImagingException($"the mask has {mask.Length} pixels, the image {img.Data.Length}");
        var result = img.Clone();
        var unknown = Enumerable.Range(0, mask.Length).Where(i => mask[i]).ToArray();
        double mean = 0;
        var known = 0;
        for (var i = 0; i < mask.Length; i++)
        {
            if (mask[i]) continue;
            mean += img.Data[i];
            known++;
        }
        if (known == 0) throw new ImagingException("the mask covers the whole image: nothing to fill from");
        foreach (var i in unknown) result.Data[i] = (float)(mean / known);
        const double omega = 1.9;
        for (var it = 0; it < maxIterations; it++)
        {
            double change = 0;
            foreach (var i in unknown)
            {
                int x = i % img.Width, y = i / img.Width;
                var avg = (result.Clamped(x - 1, y) + result.Clamped(x + 1, y) + result.Clamped(x, y - 1) + result.Clamped(x, y + 1)) / 4.0;
                var next = result.Data[i] + omega * (avg - result.Data[i]);
                change = Math.Max(change, Math.Abs(next - result.Data[i]));
                result.Data[i] = (float)next;
            }
            if (change < tolerance) break;
        }
        return result;
    }
}
