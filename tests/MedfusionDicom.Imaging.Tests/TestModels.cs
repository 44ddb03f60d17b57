namespace MedfusionDicom.Imaging.Tests;

/// <summary>An image model whose answer is known: a function of each input pixel, recording what it was given.</summary>
internal sealed class PixelwiseModel(ModelImageSpec spec, Func<float, float> f) : IImageModel
{
    public ModelImageSpec Spec { get; } = spec;
    public List<Image2D> Inputs { get; } = new();
    public List<int> BatchSizes { get; } = new();

    public long NewNoiseSeed() => 0;

    public IReadOnlyList<Image2D> Run(IReadOnlyList<ModelWindow> windows, CancellationToken cancellationToken)
    {
        BatchSizes.Add(windows.Count);
        Inputs.AddRange(windows.Select(w => w.Input));
        return windows.Select(w => w.Input).Select(i =>
        {
            var s = Spec.Scale;
            var output = new Image2D(i.Width * s, i.Height * s);
            for (var y = 0; y < output.Height; y++)
            for (var x = 0; x < output.Width; x++)
                output[x, y] = f(i[x / s, y / s]);
            return output;
        }).ToList();
    }
}

/// <summary>
/// Gives every window its own constant offset on top of the input: the worst case of a model whose answer depends on
/// the context a window sees. Hard tile borders would show as steps; blended ones must not.
/// </summary>
internal sealed class OffsetPerWindowModel(ModelImageSpec spec) : IImageModel
{
    private int _calls;
    public ModelImageSpec Spec { get; } = spec;

    public long NewNoiseSeed() => 0;

    public IReadOnlyList<Image2D> Run(IReadOnlyList<ModelWindow> windows, CancellationToken cancellationToken) =>
        windows.Select(w => w.Input).Select(i =>
        {
            var offset = (_calls++ % 5 - 2) * 0.1f;
            var output = i.Clone();
            for (var p = 0; p < output.Data.Length; p++) output.Data[p] += offset;
            return output;
        }).ToList();
}

internal static class TestImages
{
    /// <summary>
    /// A radiograph-like 8-bit image, values 0..255: smooth anatomy-sized shapes, fine texture (smoothed white noise,
    /// so nothing in it repeats with the tile grid) and noise.
    /// </summary>
    public static float[] Radiograph(int width, int height, int seed)
    {
        var rng = new Random(seed);
        var blobs = Enumerable.Range(0, 12).Select(_ => (X: rng.NextDouble() * width, Y: rng.NextDouble() * height, R: (0.05 + rng.NextDouble() * 0.2) * width, A: rng.NextDouble() * 80 - 30)).ToArray();
        var texture = Smoothed(Enumerable.Range(0, width * height).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray(), width, height);
        var values = new float[width * height];
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
        {
            var v = 90 + 40.0 * y / height + 60 * texture[y * width + x];
            foreach (var b in blobs) v += b.A * Math.Exp(-((x - b.X) * (x - b.X) + (y - b.Y) * (y - b.Y)) / (2 * b.R * b.R));
            v += 12 * (rng.NextDouble() - 0.5);
            values[y * width + x] = (float)Math.Round(Math.Clamp(v, 0, 255));
        }
        return values;
    }

    /// <summary>Three passes of a 5 x 5 box filter (close to a Gaussian of sigma 2.5), edges clamped.</summary>
    private static float[] Smoothed(float[] v, int width, int height)
    {
        for (var pass = 0; pass < 3; pass++)
        {
            var next = new float[v.Length];
            for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                float sum = 0;
                for (var dy = -2; dy <= 2; dy++)
                for (var dx = -2; dx <= 2; dx++)
                    sum += v[Math.Clamp(y + dy, 0, height - 1) * width + Math.Clamp(x + dx, 0, width - 1)];
                next[y * width + x] = sum / 25;
            }
            v = next;
        }
        return v;
    }
}
