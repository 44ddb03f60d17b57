using TorchSharp;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using MedfusionDicom.Diffusion.Data;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Schedulers;
using MedfusionDicom.Imaging;

namespace MedfusionDicom.Diffusion.Evaluation;

/// <summary>Mean metrics of one method against the clean images (PSNR and gradient over the mask only for inpainting).</summary>
public sealed record MethodScore(string Method, double Psnr, double Ssim, double Gradient);

public sealed record RestorationReport(RestorationTask Task, int Images, int Steps, string Sampler, IReadOnlyList<MethodScore> Scores,
    double CleanGradient, double SecondsPerImage, double MaxChangeOutsideMask)
{
    /// <summary>A Markdown table for model cards and bench/RESULTS.md.</summary>
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine(inv, $"{Task} on {Images} test-split images, {Sampler} {Steps} steps, {SecondsPerImage:F1} s/image (CPU)");
        sb.AppendLine();
        sb.AppendLine(Task == RestorationTask.Inpaint ? "| method | PSNR in mask (dB) | SSIM | mean gradient in mask |" : "| method | PSNR (dB) | SSIM | mean gradient |");
        sb.AppendLine("|---|---|---|---|");
        foreach (var s in Scores) sb.AppendLine(inv, $"| {s.Method} | {s.Psnr:F2} | {s.Ssim:F4} | {s.Gradient:F4} |");
        sb.AppendLine(inv, $"| clean reference | | | {CleanGradient:F4} |");
        if (Task == RestorationTask.Inpaint) sb.AppendLine().AppendLine(inv, $"Largest change outside the mask: {MaxChangeOutsideMask:G3}");
        return sb.ToString();
    }
}

/// <summary>
/// Evaluates a restoration model against the classic baselines on the test split, with the degradations of
/// <see cref="Degradations"/> (seeded per image): 3x3 median for denoising, bicubic for super-resolution, harmonic
/// (Laplace) fill for inpainting.
/// </summary>
public static class RestorationEvaluation
{
    public static RestorationReport Run(RestorationPipeline pipeline, CxrDataset data, int count, int steps, SamplerKind sampler, long seed,
        int scale = 2, int minBox = 16, int maxBox = 24, Action<int, int>? onImage = null, CancellationToken ct = default, double strength = 1.0,
        IntensityNormalization? intensity = null)
    {
        intensity ??= IntensityNormalization.OfStoredRange;
        var test = data.Split("test");
        if (count < 1) throw new ArgumentException("count must be positive");
        count = Math.Min(count, test.Count);
        var sums = new Dictionary<string, double[]>();
        var order = new List<string>();
        void Add(string method, Image2D clean, Image2D result, bool[]? mask)
        {
            if (!sums.ContainsKey(method)) { sums[method] = new double[3]; order.Add(method); }
            var s = sums[method];
            s[0] += ImageMetrics.Psnr(clean, result, mask: mask);
            s[1] += ImageMetrics.Ssim(clean, result);
            s[2] += ImageMetrics.MeanGradientMagnitude(result, mask);
        }
        double cleanGradient = 0, maxOutside = 0;
        var clock = Stopwatch.StartNew();
        double modelSeconds = 0;
        for (int k = 0; k < count; k++)
        {
            ct.ThrowIfCancellationRequested();
            // Evenly spread over the test split so both classes appear.
            var rec = test[(int)((long)k * test.Count / count)];
            var clean = data.ReadImage(rec.Index, intensity);
            var rng = new Random(unchecked((int)(seed * 7919 + k)));
            using var g = new torch.Generator((ulong)(seed + k));
            var options = new SamplingOptions { Steps = steps, Eta = 0, Strength = strength, Generator = g, CancellationToken = ct };
            var start = clock.Elapsed;
            switch (pipeline.Task)
            {
                case RestorationTask.Denoise:
                {
                    var noisy = Degradations.AddNoise(clean, rng);
                    var restored = ImageRestorer.Restore(pipeline, noisy, null, 1, sampler, options);
                    modelSeconds += (clock.Elapsed - start).TotalSeconds;
                    cleanGradient += ImageMetrics.MeanGradientMagnitude(clean);
                    Add("noisy input", clean, noisy, null);
                    Add("median 3x3", clean, ClassicBaselines.Median(noisy), null);
                    Add("Med-cDiff", clean, restored, null);
                    break;
                }
                case RestorationTask.SuperResolve:
                {
                    var low = Degradations.Downsample(clean, scale);
                    var restored = ImageRestorer.Restore(pipeline, low, null, scale, sampler, options);
                    modelSeconds += (clock.Elapsed - start).TotalSeconds;
                    cleanGradient += ImageMetrics.MeanGradientMagnitude(clean);
                    Add("bicubic", clean, ClassicBaselines.Bicubic(low, clean.Width, clean.Height), null);
                    Add("Med-cDiff", clean, restored, null);
                    break;
                }
                default:
                {
                    int w = rng.Next(minBox, maxBox + 1), h = rng.Next(minBox, maxBox + 1);
                    var mask = ImageMask.Box(clean.Width, clean.Height, rng.Next(clean.Width - w + 1), rng.Next(clean.Height - h + 1), w, h);
                    var restored = ImageRestorer.Restore(pipeline, clean, mask, 1, sampler, options);
                    modelSeconds += (clock.Elapsed - start).TotalSeconds;
                    cleanGradient += ImageMetrics.MeanGradientMagnitude(clean, mask);
                    for (int i = 0; i < mask.Length; i++) if (!mask[i]) maxOutside = Math.Max(maxOutside, Math.Abs(restored.Data[i] - clean.Data[i]));
                    var holed = clean.Clone();
                    for (int i = 0; i < mask.Length; i++) if (mask[i]) holed.Data[i] = 0;
                    Add("harmonic fill", clean, ImageFill.Harmonic(holed, mask), mask);
                    Add("Med-cDiff", clean, restored, mask);
                    break;
                }
            }
            onImage?.Invoke(k + 1, count);
        }
        var scores = order.Select(m => new MethodScore(m, sums[m][0] / count, sums[m][1] / count, sums[m][2] / count)).ToList();
        return new RestorationReport(pipeline.Task, count, steps, sampler.ToString(), scores, cleanGradient / count, modelSeconds / count, maxOutside);
    }
}
