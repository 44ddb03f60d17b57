using MedfusionDicom.Diffusion.Models;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Schedulers;
using MedfusionDicom.Torch;

namespace MedfusionDicom.Imaging.Tests;

/// <summary>Images far larger than the 128-pixel window the bundled denoiser was trained on, tiled under a small budget.</summary>
public class BundledDenoiserTilingTests
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
        var options = new SamplingOptions { Steps = card.RestorationSteps, Strength = card.MaxStrength, Generator = generator };
        var model = new RestorationImageModel(ModelLoader.RestorationPipeline(card, unet, scheduler), spec, SamplerKind.Ddim, options);

        var output = TiledInference.Run(model, [input], [null], tiling)[0];
        var (columnRatio, rowRatio) = SeamRatios(output, input, plan);
        // Sampling noise moves each ratio by about 2 %; a seam is a step many times that.
        Assert.True(columnRatio <= 1.05 && rowRatio <= 1.05,
            $"differences across tile borders are {columnRatio:F3} (between columns) and {rowRatio:F3} (between rows) of those inside tiles");
        if (size == 512)
        {
            // The measure sees seams where there are some: the same model on windows that neither overlap nor blend.
            var hard = tiling with { Overlap = 0 };
            var hardOutput = TiledInference.Run(model, [input], [null], hard)[0];
            var (hardColumns, hardRows) = SeamRatios(hardOutput, input, TiledInference.Plan(spec, [input], hard));
            Assert.True(Math.Max(hardColumns, hardRows) > 1.1, $"hard tile borders gave only {hardColumns:F3} / {hardRows:F3}");
        }

        Assert.Equal((size, size), (output.Width, output.Height));
        Assert.All(output.Data, v => Assert.True(float.IsFinite(v)));
        Assert.True(output.Data.Zip(input.Data).Average(p => Math.Abs(p.First - p.Second)) > 1e-3, "the model changed nothing");
    }

    /// <summary>
    /// Mean |difference| of neighbours that straddle a tile's first or last column (row), over that of neighbours inside
    /// one tile where no other overlaps it (an overlap averages two samples, smoother than any single tile). Each is
    /// taken relative to the input's at the same pairs, since the anatomy's own texture differs from column to column.
    /// </summary>
    private static (double Columns, double Rows) SeamRatios(Image2D output, Image2D input, TilingPlan plan)
    {
        var size = output.Width;
        var columns = plan.Tiles[0].Select(t => (t.X, End: t.X + t.Width)).Distinct().ToList();
        var borders = columns.SelectMany(c => new[] { c.X, c.End }).Where(x => x > 0 && x < size).ToHashSet();
        var coverage = new int[size];
        foreach (var (start, end) in columns) for (var x = start; x < end; x++) coverage[x]++;
        bool Inside(int x) => coverage[x] == 1 && coverage[x - 1] == 1 && !borders.Contains(x);
        double Ratio(Image2D result, Image2D source)
        {
            var (across, inside) = NeighbourDifferences(result, borders, Inside);
            var (acrossSource, insideSource) = NeighbourDifferences(source, borders, Inside);
            return across / acrossSource / (inside / insideSource);
        }
        return (Ratio(output, input), Ratio(Transpose(output), Transpose(input)));
    }

    /// <summary>Mean |p(x) - p(x - 1)| for x where a tile starts or ends, and for the x that <paramref name="inside"/> accepts.</summary>
    private static (double Across, double Inside) NeighbourDifferences(Image2D image, HashSet<int> borders, Func<int, bool> inside)
    {
        double across = 0, within = 0;
        long nAcross = 0, nInside = 0;
        for (var y = 0; y < image.Height; y++)
        for (var x = 1; x < image.Width; x++)
        {
            var d = Math.Abs(image[x, y] - image[x - 1, y]);
            if (borders.Contains(x)) { across += d; nAcross++; }
            else if (inside(x)) { within += d; nInside++; }
        }
        return (across / nAcross, within / nInside);
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
