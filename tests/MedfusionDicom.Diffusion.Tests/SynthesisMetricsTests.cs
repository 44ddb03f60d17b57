using MedfusionDicom.Diffusion.Evaluation;
using MedfusionDicom.Imaging;

namespace MedfusionDicom.Diffusion.Tests;

public class SynthesisMetricsTests
{
    private static double[][] Gaussian(int n, int d, double shift, double scale, int seed)
    {
        var rng = new Random(seed);
        double G() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        return Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, d).Select(i => shift + scale * G() * (1 + 0.3 * i)).ToArray()).ToArray();
    }

    [Fact]
    public void Frechet_distance_is_zero_for_one_set_and_the_closed_form_for_a_shift_and_scale()
    {
        var a = Gaussian(400, 4, 0, 1, 1);
        Assert.Equal(0, SynthesisMetrics.FrechetDistance(a, a), 6);
        // Shifting every coordinate by 2 adds d·4; scaling by 2 makes Tr(Σ + 4Σ - 2·2Σ) = Tr Σ.
        var shifted = a.Select(r => r.Select(v => v + 2).ToArray()).ToArray();
        Assert.Equal(16, SynthesisMetrics.FrechetDistance(a, shifted), 6);
        var scaled = a.Select(r => r.Select(v => 2 * v).ToArray()).ToArray();
        var mean = Enumerable.Range(0, 4).Select(i => a.Average(r => r[i])).ToArray();
        double trace = Enumerable.Range(0, 4).Sum(i => a.Sum(r => (r[i] - mean[i]) * (r[i] - mean[i])) / 399);
        double meanShift = mean.Sum(m => m * m); // the means differ by μ
        Assert.Equal(trace + meanShift, SynthesisMetrics.FrechetDistance(a, scaled), 6);
    }

    [Fact]
    public void Precision_and_recall_separate_matching_from_disjoint_sets()
    {
        var real = Gaussian(100, 3, 0, 1, 2);
        var same = Gaussian(100, 3, 0, 1, 3);
        var far = Gaussian(100, 3, 50, 1, 4);
        var (p, r) = SynthesisMetrics.PrecisionRecall(real, same);
        Assert.True(p > 0.7 && r > 0.7, $"{p} {r}");
        Assert.Equal((0.0, 0.0), SynthesisMetrics.PrecisionRecall(real, far));
        // A collapsed generator (every sample the same real point) is precise but has no recall.
        var collapsed = Enumerable.Repeat(real[0], 100).ToArray();
        var (pc, rc) = SynthesisMetrics.PrecisionRecall(real, collapsed);
        Assert.Equal(1.0, pc);
        Assert.True(rc < 0.2);
    }

    [Fact]
    public void Nearest_by_ssim_finds_a_memorized_image()
    {
        var train = Enumerable.Range(0, 5).Select(k => new Image2D(16, 16, Enumerable.Range(0, 256).Select(p => (float)Math.Sin(p * 0.1 * (k + 1))).ToArray())).ToList();
        var (index, ssim) = SynthesisMetrics.NearestBySsim(train[3].Clone(), train);
        Assert.Equal(3, index);
        Assert.Equal(1.0, ssim, 6);
    }
}

public class FeatureClassifierTests
{
    [Fact]
    public void Classifier_learns_two_synthetic_classes_and_embeds_64_features()
    {
        using var src = new SyntheticSource(16);
        double last = 0;
        using var net = FeatureClassifier.Train(src, 60, 8, 1, (_, loss) => last = loss);
        var (features, predicted) = net.Embed(Enumerable.Range(0, 4).Select(src.Read).ToList(), 16);
        Assert.Equal(4, features.Length);
        Assert.All(features, f => Assert.Equal(64, f.Length));
        Assert.Equal(new[] { 0, 1, 0, 1 }, predicted);
        Assert.True(last < 0.3, $"final loss {last}");
    }
}
