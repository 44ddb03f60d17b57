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
        using var classifier = FeatureClassifier.Train(train, classifierSteps, 32, seed);

        // Real reference: test images spread over the split.
        int m = Math.Min(realCount, test.Count);
        var realIdx = Enumerable.Range(0, m).Select(k => (int)((long)k * test.Count / m)).ToArray();
        var (realFeat, realPred) = classifier.Embed(realIdx.Select(test.Read).ToList(), size);
        double testAcc = realIdx.Select((i, k) => realPred[k] == test.Label(i) ? 1.0 : 0.0).Average();

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
        var (fakeFeat, fakePred) = classifier.Embed(samples, size);
        var accPerLabel = labels.Select((l, li) => (l, Enumerable.Range(0, samples.Count).Where(i => sampleLabels[i] == li).Select(i => fakePred[i] == li ? 1.0 : 0.0).DefaultIfEmpty(0).Average()))
            .ToDictionary(x => x.l, x => x.Item2);
        var fd = SynthesisMetrics.FrechetDistance(realFeat, fakeFeat);
        var (precision, recall) = SynthesisMetrics.PrecisionRecall(realFeat, fakeFeat);

        log?.Invoke("memorization check");
        int f = size / 16;
        var thumbs = Enumerable.Range(0, train.Count).Select(i => Degradations.Downsample(new Image2D(size, size, train.Read(i)), f).Data).ToList();
        var nearest = samples.Select(s => NearestTrainingSsim(new Image2D(size, size, s), train, thumbs, f)).ToList();
        return new SynthesisReport(perLabel, steps, sampler.ToString(), guidance, testAcc, accPerLabel, fd, precision, recall,
            nearest.Average(), nearest.Max(), secondsPerImage);
    }

    /// <summary>
    /// SSIM to the most similar training image. SSIM against every training image is too slow on a CPU, so the 32
    /// nearest by L2 on 16x16 thumbnails are the candidates (a memorized copy is also nearest in L2).
    /// </summary>
    private static double NearestTrainingSsim(Image2D sample, IImageSource train, List<float[]> thumbs, int f)
    {
        var thumb = Degradations.Downsample(sample, f).Data;
        var scored = new List<(double d, int i)>();
        for (int i = 0; i < thumbs.Count; i++)
        {
            var t = thumbs[i];
            double d = 0;
            for (int p = 0; p < t.Length; p++) d += (t[p] - thumb[p]) * (t[p] - thumb[p]);
            scored.Add((d, i));
        }
        var candidates = scored.OrderBy(x => x.d).Take(32).Select(x => new Image2D(sample.Width, sample.Height, train.Read(x.i))).ToList();
        return SynthesisMetrics.NearestBySsim(sample, candidates).ssim;
    }
}
