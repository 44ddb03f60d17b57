using MedfusionDicom.Diffusion.Models;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Schedulers;
using TorchSharp;
using MedfusionDicom.Torch;
using Xunit.Abstractions;

namespace MedfusionDicom.Imaging.Tests;

/// <summary>Images far larger than the 128-pixel window the bundled denoiser was trained on, tiled under a small budget.</summary>
public class BundledDenoiserTilingTests(ITestOutputHelper log)
{
    internal static string ModelDirectory(string name)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(dir.FullName, "MedfusionDicom.sln"))) dir = dir.Parent ?? throw new InvalidOperationException("repository root not found");
        return Path.Combine(dir.FullName, "models", name);
    }

    [Theory]
    [InlineData(512)]
    [InlineData(1024)]
    public void A_large_radiograph_is_denoised_in_tiles_to_its_own_size_without_seams(int size)
    {
        var (card, unet, scheduler) = ModelLoader.LoadDiffusion(ModelDirectory("cdiff-cxr-denoise"));
        using var _ = unet;
        var spec = card.ImageSpec();
        var values = TestImages.Radiograph(size, size, seed: size);
        var window = spec.Intensity.WindowFor(values, monochrome1: false, ValueRange.OfStored(8, signed: false));
        var input = window.ToModel(values, size, size);
        var tiling = new TilingOptions { MemoryBudgetMegabytes = 64, Overlap = 0.25, MaxBatchSize = 8 };
        var plan = TiledInference.Plan(spec, [input], tiling);
        Assert.False(plan.IsWhole(0));
        using var generator = new torch.Generator(7);
        // The restoration verbs' sampling: DDIM, eta 0, the model's steps and strength.
        var options = new SamplingOptions { Steps = card.RestorationSteps, Eta = 0, Strength = card.MaxStrength, Generator = generator };
        var model = new RestorationImageModel(ModelLoader.RestorationPipeline(card, unet, scheduler), spec, SamplerKind.Ddim, options);

        var output = TiledInference.Run(model, [input], [null], tiling)[0];
        // The UNet's own sampling grid: it downsamples by this factor, and tile borders fall on its multiples.
        var grid = card.Unet!.Strides.Aggregate(1, (a, s) => a * s);
        var columns = Seam.Measure(output, input, plan, grid);
        var rows = Seam.Measure(Transpose(output), Transpose(input), plan, grid);
        log.WriteLine($"{size}: between columns {columns}; between rows {rows}");
        // A seam is a border rougher than the pixels next to it, beyond the column-to-column spread there. Measured
        // (bench/RESULTS.md, "Imaging path"): borders 1-4 % above their surroundings, within the spread there; windows
        // that neither overlap nor blend 60-80 % above.
        Assert.False(columns.IsSeam || rows.IsSeam, $"tile borders stand out: between columns {columns}; between rows {rows}");
        if (size == 512)
        {
            // The measure sees seams where there are some: the same model on windows that neither overlap nor blend.
            var hard = tiling with { Overlap = 0 };
            var hardOutput = TiledInference.Run(model, [input], [null], hard)[0];
            var hardPlan = TiledInference.Plan(spec, [input], hard);
            var (hardColumns, hardRows) = (Seam.Measure(hardOutput, input, hardPlan, grid), Seam.Measure(Transpose(hardOutput), Transpose(input), hardPlan, grid));
            log.WriteLine($"{size}, hard tiles: between columns {hardColumns}; between rows {hardRows}");
            Assert.True(hardColumns.IsSeam && hardRows.IsSeam, $"hard tile borders: between columns {hardColumns}; between rows {hardRows}");
        }

        Assert.Equal((size, size), (output.Width, output.Height));
        Assert.All(output.Data, v => Assert.True(float.IsFinite(v)));
        Assert.True(output.Data.Zip(input.Data).Average(p => Math.Abs(p.First - p.Second)) > 1e-3, "the model changed nothing");
    }

    /// <summary>
    /// How much the neighbour differences across tile borders stand out from those right next to them. Border: the mean
    /// |difference| of the pairs that straddle a tile's first or last column. Nearby: the same for the column sets
    /// shifted by one to three steps of the UNet's sampling grid either way, which lie inside the same tiles at the same
    /// place in that grid (tile borders fall on it, and a UNet's output may differ by phase in that grid). Comparing a
    /// border with its own surroundings matters: the bundled denoiser smooths some 128-pixel windows to a tenth of the
    /// input's texture and leaves others rougher than the input, so columns spread over other tiles differ by that
    /// alone. Each mean is relative to the input's at the same pairs. A seam: the border more than three spreads (standard
    /// deviations of the nearby sets) above the nearby mean, and above every nearby set.
    /// </summary>
    private sealed record Seam(double Border, double NearbyMean, double NearbySpread, double NearbyMax)
    {
        public double Ratio => Border / NearbyMean;
        public bool IsSeam => Border > NearbyMean + 3 * NearbySpread && Border > NearbyMax;

        public static Seam Measure(Image2D output, Image2D input, TilingPlan plan, int grid)
        {
            var size = output.Width;
            var window = plan.Tiles[0][0].Width;
            var borders = plan.Tiles[0].Select(t => t.X).Distinct().SelectMany(x => new[] { x, x + window }).Where(x => x > 0 && x < size).ToHashSet();
            var nearby = Enumerable.Range(1, 3).SelectMany(k => new[] { -k * grid, k * grid })
                .Select(d => borders.Select(x => x + d).Where(x => x > 0 && x < size && !borders.Contains(x)).ToHashSet())
                .Select(Relative).ToList();
            var mean = nearby.Average();
            return new Seam(Relative(borders), mean, Math.Sqrt(nearby.Average(r => (r - mean) * (r - mean))), nearby.Max());

            double Relative(HashSet<int> columns) => MeanDifference(output, columns) / MeanDifference(input, columns);
        }

        public override string ToString() =>
            $"border {Border:F3} / nearby {NearbyMean:F3} = {Ratio:F3} (nearby spread {NearbySpread:F3}, max {NearbyMax:F3})";
    }

    /// <summary>Mean |p(x) - p(x - 1)| over every row, for the x in <paramref name="columns"/>.</summary>
    private static double MeanDifference(Image2D image, HashSet<int> columns)
    {
        double sum = 0;
        long n = 0;
        for (var y = 0; y < image.Height; y++)
            foreach (var x in columns)
            {
                sum += Math.Abs(image[x, y] - image[x - 1, y]);
                n++;
            }
        return sum / n;
    }

    private static Image2D Transpose(Image2D image)
    {
        var t = new Image2D(image.Height, image.Width);
        for (var y = 0; y < image.Height; y++)
        for (var x = 0; x < image.Width; x++)
            t[y, x] = image[x, y];
        return t;
    }
}
