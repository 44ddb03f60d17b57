using MedfusionDicom.Diffusion.Training;

namespace MedfusionDicom.Diffusion.Evaluation;

/// <summary>How generated images compare with real ones: per-label accuracy of the feature classifier, and the distribution metrics.</summary>
public sealed record SynthesisScores(IReadOnlyDictionary<string, double> AccuracyPerLabel, double FrechetDistance, double Precision, double Recall);

/// <summary>
/// Scores generated images against the real test split: a feature classifier trained on the real train split (Inception
/// weights are not available here) labels each sample and gives the features for the Fréchet distance and
/// precision/recall (<see cref="SynthesisMetrics"/>). Everything depends only on the seed, so a score can be recomputed.
/// </summary>
public sealed class SynthesisScorer : IDisposable
{
    private readonly FeatureClassifier _classifier;
    private readonly double[][] _realFeatures;
    private readonly IReadOnlyList<string> _labels;
    private readonly int _size;

    private SynthesisScorer(FeatureClassifier classifier, double[][] realFeatures, double testAccuracy, IReadOnlyList<string> labels, int size)
    {
        _classifier = classifier;
        _realFeatures = realFeatures;
        ClassifierTestAccuracy = testAccuracy;
        _labels = labels;
        _size = size;
    }

    /// <summary>The classifier's accuracy on the real test images: what its per-label accuracies on samples are worth.</summary>
    public double ClassifierTestAccuracy { get; }

    /// <summary>How many real test images the distribution metrics compare with.</summary>
    public int RealImages => _realFeatures.Length;

    /// <param name="realCount">Real test images used, evenly spread over the split.</param>
    public static SynthesisScorer Train(IImageSource train, IImageSource test, int classifierSteps, long seed, int realCount = 256)
    {
        if (test.Count < 2) throw new ArgumentException($"the test split has {test.Count} images; the metrics need at least 2");
        if (test.Size != train.Size) throw new ArgumentException($"the test images are {test.Size} pixels wide, the training images {train.Size}");
        var classifier = FeatureClassifier.Train(train, classifierSteps, 32, seed);
        var m = Math.Min(realCount, test.Count);
        var realIndex = Enumerable.Range(0, m).Select(k => (int)((long)k * test.Count / m)).ToArray();
        var (features, predicted) = classifier.Embed(realIndex.Select(test.Read).ToList(), train.Size);
        var accuracy = realIndex.Select((i, k) => predicted[k] == test.Label(i) ? 1.0 : 0.0).Average();
        return new SynthesisScorer(classifier, features, accuracy, train.Labels, train.Size);
    }

    /// <summary>Scores samples (model space, [-1, 1]) generated for the labels at <paramref name="labels"/>; only labels with samples get an accuracy.</summary>
    public SynthesisScores Score(IReadOnlyList<float[]> samples, IReadOnlyList<int> labels)
    {
        if (samples.Count != labels.Count) throw new ArgumentException("one label per sample");
        if (samples.Count < 2) throw new ArgumentException("the distribution metrics need at least 2 samples");
        var (features, predicted) = _classifier.Embed(samples, _size);
        var accuracy = new Dictionary<string, double>(StringComparer.Ordinal);
        for (var li = 0; li < _labels.Count; li++)
        {
            var of = Enumerable.Range(0, samples.Count).Where(i => labels[i] == li).ToList();
            if (of.Count > 0) accuracy[_labels[li]] = of.Average(i => predicted[i] == li ? 1.0 : 0.0);
        }
        var (precision, recall) = SynthesisMetrics.PrecisionRecall(_realFeatures, features);
        return new SynthesisScores(accuracy, SynthesisMetrics.FrechetDistance(_realFeatures, features), precision, recall);
    }

    public void Dispose() => _classifier.Dispose();
}
