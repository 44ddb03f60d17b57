using TorchSharp;
using MedfusionDicom.Torch;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Training;

/// <summary>Differentiable losses that the tensor runtime lacks.</summary>
public static class Losses
{
    /// <summary>
    /// Per-image SSIM of images in [-1, 1] (mapped to [0, 1], data range 1) with an 11x11 Gaussian window (σ 1.5) and
    /// valid convolution, clamped at 0 as pytorch_msssim's nonnegative_ssim; [B]. Images smaller than the window (deep
    /// supervision heads of small crops) get the largest odd window that fits.
    /// </summary>
    public static Tensor Ssim(Tensor pred, Tensor target)
    {
        int fit = (int)Math.Min(11, Math.Min(pred.size(2), pred.size(3)));
        int win = fit % 2 == 1 ? fit : fit - 1;
        const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
        var g = Enumerable.Range(0, win).Select(i => Math.Exp(-Math.Pow(i - win / 2, 2) / (2 * 1.5 * 1.5))).ToArray();
        var sum = g.Sum();
        var k2 = new float[win * win];
        for (int y = 0; y < win; y++) for (int x = 0; x < win; x++) k2[y * win + x] = (float)(g[y] * g[x] / sum / sum);
        long ch = pred.size(1);
        var kernel = tensor(k2, new long[] { 1, 1, win, win }, device: pred.device).expand(ch, 1, win, win).contiguous();
        var x1 = ((pred + 1.0) * 0.5).clamp(0.0, 1.0);
        var y1 = (target + 1.0) * 0.5;
        Tensor Blur(Tensor t) => nn.functional.conv2d(t, kernel, groups: ch);
        var mx = Blur(x1); var my = Blur(y1);
        var sxx = Blur(x1 * x1) - mx * mx;
        var syy = Blur(y1 * y1) - my * my;
        var sxy = Blur(x1 * y1) - mx * my;
        var map = (mx * my * 2.0 + c1) * (sxy * 2.0 + c2) / ((mx * mx + my * my + c1) * (sxx + syy + c2));
        return map.flatten(2).mean([2]).relu().mean([1]);
    }
}
