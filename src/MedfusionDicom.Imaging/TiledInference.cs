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
        var axisWeights = new Dictionary<(int, bool, bool), float[]>();
        (float[] Columns, float[] Rows)? WeightsOf(Tile t, int scale)
        {
            if (plan.IsWhole(t.Image)) return null;
            var sides = SidesShared(t, images[t.Image]);
            return (Axis(t.Width * scale, sides.HasFlag(WindowSides.Left), sides.HasFlag(WindowSides.Right)),
                Axis(t.Height * scale, sides.HasFlag(WindowSides.Top), sides.HasFlag(WindowSides.Bottom)));
        }
        float[] Axis(int length, bool low, bool high)
        {
            if (!axisWeights.TryGetValue((length, low, high), out var axis)) axisWeights[(length, low, high)] = axis = AxisWeights(length, options.Overlap, low, high);
            return axis;
        }
        var outputs = images.Select((image, k) => new Accumulator(image.Width * spec.Scale, image.Height * spec.Scale, plan.Tiles[k], t => WeightsOf(t, spec.Scale), spec.Scale)).ToArray();
        // Windows are cut from their image a batch at a time, so that a large image is never held twice.
        var work = new List<Tile>();
        foreach (var tile in plan.Tiles.SelectMany(t => t))
        {
            var mask = MaskOf(masks, images, tile);
            if (mask is not null && !ImageMask.AnyUnknown(mask))
                outputs[tile.Image].Add(Crop(images[tile.Image], tile), tile, 1, WeightsOf(tile, 1));
            else if (mask is not null && !mask.Contains(false))
                throw new ImagingException($"the mask of image {tile.Image} covers the whole {tile.Width}x{tile.Height} window at {tile.X},{tile.Y}, so " +
                    "that window has nothing to inpaint from; raise the memory budget so that the image runs whole, or use smaller boxes");
            else
                work.Add(tile);
        }
        var total = work.Count;
        var done = 0;
        progress?.Report(new TileProgress(0, total));
        foreach (var group in work.GroupBy(t => (t.Width, t.Height)))
        {
            var outputPixels = (long)group.Key.Width * group.Key.Height * spec.Scale * spec.Scale;
            var batchSize = (int)Math.Clamp(options.MemoryBudgetBytes / Math.Max(1, outputPixels * spec.BytesPerPixel), 1, options.MaxBatchSize);
            foreach (var batch in group.Chunk(batchSize))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var results = model.Run(batch.Select(t => new ModelWindow(Crop(images[t.Image], t), MaskOf(masks, images, t), seeds[t.Image], t.X * spec.Scale, t.Y * spec.Scale)).ToList(),
                    cancellationToken);
                if (results.Count != batch.Length) throw new InvalidOperationException($"the model returned {results.Count} images for {batch.Length} inputs");
                for (var i = 0; i < batch.Length; i++)
                    outputs[batch[i].Image].Add(results[i], batch[i], spec.Scale, WeightsOf(batch[i], spec.Scale));
                done += batch.Length;
                progress?.Report(new TileProgress(done, total));
            }
        }
        return outputs.Select(o => o.Result()).ToList();
    }

    private static bool[]? MaskOf(IReadOnlyList<bool[]?> masks, IReadOnlyList<Image2D> images, Tile t) =>
        masks[t.Image] is { } full ? ImageMask.Crop(full, images[t.Image].Width, t.X, t.Y, t.Width, t.Height) : null;

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
        var wx = AxisWeights(width, overlap, shared.HasFlag(WindowSides.Left), shared.HasFlag(WindowSides.Right));
        var wy = AxisWeights(height, overlap, shared.HasFlag(WindowSides.Top), shared.HasFlag(WindowSides.Bottom));
        var map = new Image2D(width, height);
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
            map.Data[y * width + x] = wx[x] * wy[y];
        return map;
    }

    /// <summary>One axis of <see cref="Weights"/>: low and high say whether another window shares that end.</summary>
    private static float[] AxisWeights(int n, double overlap, bool low, bool high)
    {
        var ramp = n * overlap;
        var margin = ramp / 4;
        float Rise(double distance) => ramp < 4 ? 1f : (float)Math.Clamp((distance - margin) / (ramp - 2 * margin), 0, 1);
        return Enumerable.Range(0, n).Select(i => Math.Min(low ? Rise(i + 0.5) : 1f, high ? Rise(n - i - 0.5) : 1f)).ToArray();
    }

    /// <summary>
    /// Weighted sums of window outputs over one output image. The windows of an image form a grid and their weights are
    /// separable, so the sum of the weights at a pixel is the product of one column total and one row total: only the
    /// weighted sum takes a whole image, and the result is divided in place.
    /// </summary>
    private sealed class Accumulator
    {
        private readonly int _width;
        private readonly int _height;
        private readonly float[] _sum;
        private readonly float[] _columnTotals;
        private readonly float[] _rowTotals;

        public Accumulator(int width, int height, IReadOnlyList<Tile> tiles, Func<Tile, (float[] Columns, float[] Rows)?> weightsOf, int scale)
        {
            (_width, _height) = (width, height);
            _sum = new float[width * height];
            _columnTotals = new float[width];
            _rowTotals = new float[height];
            foreach (var column in tiles.DistinctBy(t => t.X)) AddTotals(_columnTotals, column.X * scale, weightsOf(column)?.Columns, column.Width * scale);
            foreach (var row in tiles.DistinctBy(t => t.Y)) AddTotals(_rowTotals, row.Y * scale, weightsOf(row)?.Rows, row.Height * scale);
        }

        private static void AddTotals(float[] totals, int start, float[]? weights, int length)
        {
            for (var i = 0; i < length; i++) totals[start + i] += weights?[i] ?? 1f;
        }

        public void Add(Image2D output, Tile tile, int scale, (float[] Columns, float[] Rows)? weights)
        {
            int x0 = tile.X * scale, y0 = tile.Y * scale, w = tile.Width * scale, h = tile.Height * scale;
            if (output.Width != w || output.Height != h)
                throw new InvalidOperationException($"the model returned a {output.Width}x{output.Height} image for a {tile.Width}x{tile.Height} window at scale {scale}");
            for (var y = 0; y < h; y++)
            {
                var row = (y0 + y) * _width + x0;
                var rowWeight = weights?.Rows[y] ?? 1f;
                for (var x = 0; x < w; x++)
                    _sum[row + x] += rowWeight * (weights?.Columns[x] ?? 1f) * output.Data[y * w + x];
            }
        }

        public Image2D Result()
        {
            for (var y = 0; y < _height; y++)
            for (var x = 0; x < _width; x++)
            {
                var weight = _columnTotals[x] * _rowTotals[y];
                _sum[y * _width + x] = weight > 0 ? _sum[y * _width + x] / weight : 0;
            }
            return new Image2D(_width, _height, _sum);
        }
    }
}
