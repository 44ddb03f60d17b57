using System.Globalization;
using System.Text;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Schedulers;
using MedfusionDicom.Diffusion.Training;
using MedfusionDicom.Imaging;
using TorchSharp;
using MedfusionDicom.Torch;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Evaluation;

public sealed record SynthesisReport(int SamplesPerLabel, int Steps, string Sampler, double Guidance, double ClassifierTestAccuracy,
    IReadOnlyDictionary<string, double> AccuracyPerLabel, double FrechetDistance, double Precision, double Recall,
    double MeanNearestSsim, double MaxNearestSsim, double SecondsPerImage)
{
    public string ToMarkdown()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"Synthesis: {SamplesPerLabel} samples per label, {Sampler} {Steps} steps, guidance {Guidance}, {SecondsPerImage:F1} s/image (CPU)");
        sb.AppendLine();
        sb.AppendLine("Features: a small CNN trained on the real train split (Inception weights are not available here), so the");
        sb.AppendLine("Fréchet distance is FID's formula in that feature space, not comparable with published FIDs.");
        sb.AppendLine();
        sb.AppendLine("| metric | value |");
        sb.AppendLine("|---|---|");
        sb.AppendLine(inv, $"| classifier accuracy, real test split | {ClassifierTestAccuracy:F3} |");
        foreach (var (label, acc) in AccuracyPerLabel) sb.AppendLine(inv, $"| classifier accuracy on samples of {label} | {acc:F3} |");
        sb.AppendLine(inv, $"| Fréchet distance (classifier features), samples vs real test | {FrechetDistance:F3} |");
        sb.AppendLine(inv, $"| precision (k = 3) | {Precision:F3} |");
        sb.AppendLine(inv, $"| recall (k = 3) | {Recall:F3} |");
        sb.AppendLine(inv, $"| SSIM to the nearest training image, mean / max (memorization) | {MeanNearestSsim:F3} / {MaxNearestSsim:F3} |");
        return sb.ToString();
    }
}

/// <summary>Generates samples per label with a Medfusion pipeline and scores them against the real images.</summary>
public static class SynthesisEvaluation
{
    public static SynthesisReport Run(LatentDiffusionPipeline pipeline, string npyPath, IReadOnlyList<string> labels, int perLabel, int steps,
        SamplerKind sampler, double guidance, long seed, int classifierSteps, int realCount = 256, Action<string>? log = null, CancellationToken ct = default,
        IntensityNormalization? intensity = null)
    {
        intensity ??= IntensityNormalization.Range(0, 255);
        using var train = new NpyImageSource(npyPath, intensity, "train");
        using var test = new NpyImageSource(npyPath, intensity, "test");
        int size = train.Size;
        log?.Invoke("training the feature classifier");
        using var scorer = SynthesisScorer.Train(train, test, classifierSteps, seed, realCount);

        var samples = new List<float[]>();
        var sampleLabels = new List<int>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var g = new Generator((ulong)seed);
        for (int li = 0; li < labels.Count; li++)
            for (int k = 0; k < perLabel; k++)
            {
                ct.ThrowIfCancellationRequested();
                log?.Invoke($"sampling {labels[li]} {k + 1}/{perLabel}");
                using var scope = NewDisposeScope();
                var img = pipeline.Sample([li], size, size, sampler, new SamplingOptions { Steps = steps, Generator = g, CancellationToken = ct }, guidance);
                samples.Add(img.contiguous().ToArray<float>());
                sampleLabels.Add(li);
            }
        double secondsPerImage = clock.Elapsed.TotalSeconds / Math.Max(samples.Count, 1);
        var scores = scorer.Score(samples, sampleLabels);

        log?.Invoke("memorization check");
        var screen = new MemorizationScreen(train, ct);
        var nearest = samples.Select(s => screen.Nearest(new Image2D(size, size, s)).Ssim).ToList();
        return new SynthesisReport(perLabel, steps, sampler.ToString(), guidance, scorer.ClassifierTestAccuracy, scores.AccuracyPerLabel,
            scores.FrechetDistance, scores.Precision, scores.Recall, nearest.Average(), nearest.Max(), secondsPerImage);
    }
}
