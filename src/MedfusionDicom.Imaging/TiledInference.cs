namespace MedfusionDicom.Imaging;

/// <summary>A window of one image, in input pixels.</summary>
public readonly record struct Tile(int Image, int X, int Y, int Width, int Height);

/// <summary>How the images of one call are cut: each image's windows (one window covering it when it runs whole).</summary>
public sealed record TilingPlan(IReadOnlyList<IReadOnlyList<Tile>> Tiles)
{
    public bool IsWhole(int image) => Tiles[image] is [{ X: 0, Y: 0 }] && Tiles[image].Count == 1;
    public int TileCount => Tiles.Sum(t => t.Count);
}

/// <summary>Sides of a window.</summary>
[Flags]
public enum WindowSides { Left = 1, Right = 2, Top = 4, Bottom = 8 }

/// <summary>Progress of a tiled call: windows done of all windows.</summary>
public readonly record struct TileProgress(int Done, int Total);

/// <summary>
/// Runs images of any size through a model. An image that fits the memory budget runs whole (the Med-cDiff UNets are
/// fully convolutional); a larger one runs as overlapping windows of the model's training size whose outputs are
/// cross-faded linearly over the overlap, so that where two windows disagree the difference is spread over the whole
/// overlap instead of showing as a seam. A window's outermost pixels, where its convolutions saw padding instead of
/// image, get no weight on the sides that another window covers. Windows of one size from all the images go
/// through the model in batches. Windows of an inpainting image that hold no unknown pixel are not run: they are known.
/// </summary>
public static class TiledInference
{
    public static TilingPlan Plan(ModelImageSpec spec, IReadOnlyList<Image2D> images, TilingOptions options)
    {
        options.Validate();
        var plan = new List<IReadOnlyList<Tile>>(images.Count);
        for (var k = 0; k < images.Count; k++)
        {
            var image = images[k];
            var outputPixels = (long)image.Width * image.Height * spec.Scale * spec.Scale;
            if (outputPixels * spec.BytesPerPixel <= options.MemoryBudgetBytes)
            {
                plan.Add([new Tile(k, 0, 0, image.Width, image.Height)]);
                continue;
            }
            var window = spec.InputWindowSize;
            var tiles = new List<Tile>();
            foreach (var y in Starts(image.Height, window, options.Overlap))
            foreach (var x in Starts(image.Width, window, options.Overlap))
                tiles.Add(new Tile(k, x, y, Math.Min(window, image.Width), Math.Min(window, image.Height)));
            plan.Add(tiles);
        }
        return new TilingPlan(plan);
    }

    /// <summary>Window starts along one axis: evenly stepped, the last one flush with the far edge.</summary>
    internal static IReadOnlyList<int> Starts(int length, int window, double overlap)
    {
        if (length <= window) return [0];
        var step = Math.Max(1, (int)Math.Floor(window * (1 - overlap)));
        var starts = new List<int>();
        for (var s = 0; s + window < length; s += step) starts.Add(s);
        starts.Add(length - window);
        return starts;
    }

    /// <summary>Runs the images (masks: one per image, null entries when the model takes none) and returns the model's outputs.</summary>
    public static IReadOnlyList<Image2D> Run(IImageModel model, IReadOnlyList<Image2D> images, IReadOnlyList<bool[]?> masks, TilingOptions options,
        IProgress<TileProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var spec = model.Spec;
        if (images.Count != masks.Count) throw new ImagingException($"{images.Count} images and {masks.Count} masks: give one mask entry (or null) per image");
        for (var k = 0; k < images.Count; k++)
        {
            if (spec.TakesMask != masks[k] is not null)
                throw new ImagingException(spec.TakesMask ? $"image {k}: this model inpaints and needs a mask" : $"image {k}: this model takes no mask");
            if (masks[k] is { } m) ImageMask.Validate(m, images[k].Width, images[k].Height, $"mask of image {k}");
        }
        var plan = Plan(spec, images, options);
        var seeds = images.Select(_ => model.NewNoiseSeed()).ToArray();
        var outputs = images.Select(i => new Accumulator(i.Width * spec.Scale, i.Height * spec.Scale)).ToArray();
        var weightMaps = new Dictionary<(int, int, WindowSides), Image2D>();
        Image2D? WeightsOf(Tile t, int scale)
        {
            if (plan.IsWhole(t.Image)) return null;
            var sides = SidesShared(t, images[t.Image]);
            var key = (t.Width * scale, t.Height * scale, sides);
            if (!weightMaps.TryGetValue(key, out var map)) weightMaps[key] = map = Weights(key.Item1, key.Item2, options.Overlap, sides);
            return map;
        }
        var work = new List<(Tile Tile, Image2D Input, bool[]? Mask)>();
        foreach (var tile in plan.Tiles.SelectMany(t => t))
        {
            var input = Crop(images[tile.Image], tile);
            var mask = masks[tile.Image] is { } full ? ImageMask.Crop(full, images[tile.Image].Width, tile.X, tile.Y, tile.Width, tile.Height) : null;
            if (mask is not null && !ImageMask.AnyUnknown(mask))
                outputs[tile.Image].Add(input, tile, 1, WeightsOf(tile, 1));
            else if (mask is not null && !mask.Contains(false))
                throw new ImagingException($"the mask of image {tile.Image} covers the whole {tile.Width}x{tile.Height} window at {tile.X},{tile.Y}, so " +
                    "that window has nothing to inpaint from; raise the memory budget so that the image runs whole, or use smaller boxes");
            else
                work.Add((tile, input, mask));
        }
        var total = work.Count;
        var done = 0;
        progress?.Report(new TileProgress(0, total));
        foreach (var group in work.GroupBy(w => (w.Tile.Width, w.Tile.Height)))
        {
            var outputPixels = (long)group.Key.Width * group.Key.Height * spec.Scale * spec.Scale;
            var batchSize = (int)Math.Clamp(options.MemoryBudgetBytes / Math.Max(1, outputPixels * spec.BytesPerPixel), 1, options.MaxBatchSize);
            foreach (var batch in group.Chunk(batchSize))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var results = model.Run(batch.Select(b => new ModelWindow(b.Input, b.Mask, seeds[b.Tile.Image], b.Tile.X * spec.Scale, b.Tile.Y * spec.Scale)).ToList(),
                    cancellationToken);
                if (results.Count != batch.Length) throw new InvalidOperationException($"the model returned {results.Count} images for {batch.Length} inputs");
                for (var i = 0; i < batch.Length; i++)
                {
                    var tile = batch[i].Tile;
                    outputs[tile.Image].Add(results[i], tile, spec.Scale, WeightsOf(tile, spec.Scale));
                }
                done += batch.Length;
                progress?.Report(new TileProgress(done, total));
            }
        }
        return outputs.Select(o => o.Result()).ToList();
    }

    private static Image2D Crop(Image2D image, Tile t)
    {
        if (t.X == 0 && t.Y == 0 && t.Width == image.Width && t.Height == image.Height) return image;
        var crop = new Image2D(t.Width, t.Height);
        for (var y = 0; y < t.Height; y++) Array.Copy(image.Data, (t.Y + y) * image.Width + t.X, crop.Data, y * t.Width, t.Width);
        return crop;
    }

    /// <summary>The sides of a window that another window of the image also covers.</summary>
    private static WindowSides SidesShared(Tile t, Image2D image) =>
        (t.X > 0 ? WindowSides.Left : 0) | (t.X + t.Width < image.Width ? WindowSides.Right : 0) |
        (t.Y > 0 ? WindowSides.Top : 0) | (t.Y + t.Height < image.Height ? WindowSides.Bottom : 0);

    /// <summary>
    /// A separable weight map. On a side that another window shares, the weight is 0 over the outer quarter of the
    /// overlap (the pixels whose convolutions reached into padding), rises linearly over its middle half, and is 1
    /// beyond: the neighbour's mirror image, so the two weights sum to 1 across the overlap, a linear cross-fade. On a
    /// side at the image's edge the weight stays 1, since no other window covers those pixels.
    /// </summary>
    internal static Image2D Weights(int width, int height, double overlap, WindowSides shared)
    {
        var wx = Axis(width, shared.HasFlag(WindowSides.Left), shared.HasFlag(WindowSides.Right));
        var wy = Axis(height, shared.HasFlag(WindowSides.Top), shared.HasFlag(WindowSides.Bottom));
        var map = new Image2D(width, height);
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
            map.Data[y * width + x] = wx[x] * wy[y];
        return map;

        float[] Axis(int n, bool low, bool high)
        {
            var ramp = n * overlap;
            var margin = ramp / 4;
            float Rise(double distance) => ramp < 4 ? 1f : (float)Math.Clamp((distance - margin) / (ramp - 2 * margin), 0, 1);
            return Enumerable.Range(0, n).Select(i => Math.Min(low ? Rise(i + 0.5) : 1f, high ? Rise(n - i - 0.5) : 1f)).ToArray();
        }
    }

    /// <summary>Weighted sums of window outputs over one output image.</summary>
    private sealed class Accumulator(int width, int height)
    {
        private readonly float[] _sum = new float[width * height];
        private readonly float[] _weight = new float[width * height];

        public void Add(Image2D output, Tile tile, int scale, Image2D? weights)
        {
            int x0 = tile.X * scale, y0 = tile.Y * scale, w = tile.Width * scale, h = tile.Height * scale;
            if (output.Width != w || output.Height != h)
                throw new InvalidOperationException($"the model returned a {output.Width}x{output.Height} image for a {tile.Width}x{tile.Height} window at scale {scale}");
            for (var y = 0; y < h; y++)
            {
                var row = (y0 + y) * width + x0;
                for (var x = 0; x < w; x++)
                {
                    var weight = weights?.Data[y * w + x] ?? 1f;
                    _sum[row + x] += weight * output.Data[y * w + x];
                    _weight[row + x] += weight;
                }
            }
        }

        public Image2D Result()
        {
            var image = new Image2D(width, height);
            for (var i = 0; i < _sum.Length; i++) image.Data[i] = _weight[i] > 0 ? _sum[i] / _weight[i] : 0;
            return image;
        }
    }
}
