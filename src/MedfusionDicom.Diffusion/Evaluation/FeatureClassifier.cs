using MedfusionDicom.Torch.NN;
using MedfusionDicom.Diffusion.Training;
using TorchSharp;
using MedfusionDicom.Torch;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Evaluation;

/// <summary>
/// A small CNN classifier of the real images whose pooled features stand in for Inception's in the synthesis metrics
/// (no Inception weights are available here): four strided conv/GroupNorm/SiLU stages, global average pooling to 64
/// features, a linear head over the labels.
/// </summary>
public sealed class FeatureClassifier : nn.Module<Tensor, Tensor>
{
    private readonly Sequential features;
    private readonly Linear head;

    public FeatureClassifier(int classes) : base(nameof(FeatureClassifier))
    {
        var layers = new List<nn.Module<Tensor, Tensor>>();
        long c = 1;
        foreach (var w in new long[] { 16, 32, 64, 64 })
        {
            layers.Add(nn.Conv2d(c, w, 3, 2, 1));
            layers.Add(Layers.GroupNorm(8, w));
            layers.Add(nn.SiLU());
            c = w;
        }
        features = nn.Sequential(layers);
        head = nn.Linear(c, classes);
        RegisterComponents();
    }

    /// <summary>Pooled features [B, 64] of images [B, 1, H, W] in [-1, 1].</summary>
    public Tensor Features(Tensor x) => features.call(x).mean([2, 3]);

    public override Tensor forward(Tensor x) => head.call(Features(x));

    /// <summary>Trains on a source (its train split) with Adam and cross-entropy; batches depend only on the seed.</summary>
    public static FeatureClassifier Train(IImageSource source, int steps, int batch, long seed, Action<int, double>? progress = null)
    {
        manual_seed(seed);
        var net = new FeatureClassifier(source.Labels.Count);
        using var opt = optim.Adam(net.parameters(), 2e-3);
        var rng = new Random(unchecked((int)seed));
        int n = source.Size;
        for (int s = 0; s < steps; s++)
        {
            using var scope = NewDisposeScope();
            var buf = new float[batch * n * n];
            var labels = new long[batch];
            for (int b = 0; b < batch; b++)
            {
                int i = rng.Next(source.Count);
                source.Read(i).CopyTo(buf, b * n * n);
                labels[b] = source.Label(i);
            }
            var loss = nn.functional.cross_entropy(net.call(tensor(buf, new long[] { batch, 1, n, n })), tensor(labels));
            opt.zero_grad();
            loss.backward();
            opt.step();
            progress?.Invoke(s + 1, loss.item<float>());
        }
        net.eval();
        return net;
    }

    /// <summary>Features and predicted labels of images (each n*n floats in [-1, 1]).</summary>
    public (double[][] features, int[] predicted) Embed(IReadOnlyList<float[]> images, int size)
    {
        var feats = new List<double[]>();
        var preds = new List<int>();
        using var noGrad = no_grad();
        for (int start = 0; start < images.Count; start += 32)
        {
            using var scope = NewDisposeScope();
            int b = Math.Min(32, images.Count - start);
            var buf = new float[b * size * size];
            for (int k = 0; k < b; k++) images[start + k].CopyTo(buf, k * size * size);
            var f = Features(tensor(buf, new long[] { b, 1, size, size }));
            var logits = head.call(f);
            var fa = f.to(ScalarType.Float64).contiguous().ToArray<double>();
            var pa = logits.argmax(1).ToArray<long>();
            long d = f.size(1);
            for (int k = 0; k < b; k++)
            {
                feats.Add(fa.AsSpan((int)(k * d), (int)d).ToArray());
                preds.Add((int)pa[k]);
            }
        }
        return (feats.ToArray(), preds.ToArray());
    }
}
