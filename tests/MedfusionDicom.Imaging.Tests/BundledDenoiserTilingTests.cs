using MedfusionDicom.Diffusion.Models;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Schedulers;
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
        var (columnRatio, rowRatio) = SeamRatios(output, input, plan, tiling);
        log.WriteLine($"{size}: across borders / inside tiles = {columnRatio:F3} between columns, {rowRatio:F3} between rows");
        // Measured (bench/RESULTS.md, "Imaging path"): 0.96 / 0.90 at 512, 1.013 / 1.014 at 1024; hard tiles 1.5. The
        // 5 % allowance is for that 1 %, which no blending tried here removed (a sin² ramp gave 1.02); a seam is 50 %.
        Assert.True(columnRatio <= 1.05 && rowRatio <= 1.05,
            $"differences across tile borders are {columnRatio:F3} (between columns) and {rowRatio:F3} (between rows) of the largest inside tiles");
        if (size == 512)
        {
            // The measure sees seams where there are some: the same model on windows that neither overlap nor blend.
            var hard = tiling with { Overlap = 0 };
            var hardOutput = TiledInference.Run(model, [input], [null], hard)[0];
            var (hardColumns, hardRows) = SeamRatios(hardOutput, input, TiledInference.Plan(spec, [input], hard), hard);
            log.WriteLine($"{size}, hard tiles: {hardColumns:F3} between columns, {hardRows:F3} between rows");
            Assert.True(Math.Max(hardColumns, hardRows) > 1.1, $"hard tile borders gave only {hardColumns:F3} / {hardRows:F3}");
        }

        Assert.Equal((size, size), (output.Width, output.Height));
        Assert.All(output.Data, v => Assert.True(float.IsFinite(v)));
        Assert.True(output.Data.Zip(input.Data).Average(p => Math.Abs(p.First - p.Second)) > 1e-3, "the model changed nothing");
    }

    /// <summary>
    /// How much the neighbour differences across tile borders stand out from those inside tiles: the mean |difference|
    /// of the pairs that straddle a tile's first or last column (row), over the largest such mean among as many pairs
    /// at one fixed column (row) inside every tile. Each mean is taken relative to the
    /// input's at the same pairs, since the anatomy's own texture differs from column to column. Below 1: the borders are
    /// no rougher than the insides of the tiles.
    /// </summary>
    private static (double Columns, double Rows) SeamRatios(Image2D output, Image2D input, TilingPlan plan, TilingOptions tiling)
    {
        var size = output.Width;
        var window = plan.Tiles[0][0].Width;
        var starts = plan.Tiles[0].Select(t => t.X).Distinct().ToList();
        var borders = starts.SelectMany(x => new[] { x, x + window }).Where(x => x > 0 && x < size).ToHashSet();
        var insides = new List<HashSet<int>>();
        for (var k = 8; k <= window - 8; k += 8)
        {
            var columns = starts.Select(x => x + k).Where(x => x < size).ToHashSet();
            if (!columns.Overlaps(borders)) insides.Add(columns);
        }
        double Ratio(Image2D result, Image2D source)
        {
            double Relative(HashSet<int> columns) => MeanDifference(result, columns) / MeanDifference(source, columns);
            return Relative(borders) / insides.Max(Relative);
        }
        return (Ratio(output, input), Ratio(Transpose(output), Transpose(input)));
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
