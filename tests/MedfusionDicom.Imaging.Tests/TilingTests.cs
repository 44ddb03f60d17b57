namespace MedfusionDicom.Imaging.Tests;

public class TilingTests
{
    private static ModelImageSpec Spec(int window = 32, int scale = 1, bool mask = false) =>
        new() { WindowSize = window, Scale = scale, TakesMask = mask, BytesPerPixel = 1024 };

    /// <summary>A budget that lets a single window through but not a whole image of more than a few windows.</summary>
    private static TilingOptions Small(int batch = 4) => new() { MemoryBudgetMegabytes = 1, Overlap = 0.25, MaxBatchSize = batch };

    private static Image2D Ramp(int w, int h) => new(w, h, Enumerable.Range(0, w * h).Select(i => (i % w - w / 2f) / w + (i / w) * 0.001f).ToArray());

    [Fact]
    public void An_image_that_fits_the_budget_runs_whole_and_a_larger_one_in_overlapping_windows()
    {
        var plan = TiledInference.Plan(Spec(), [new Image2D(30, 20), new Image2D(300, 100)], Small());
        Assert.True(plan.IsWhole(0));
        Assert.False(plan.IsWhole(1));
        var tiles = plan.Tiles[1];
        Assert.All(tiles, t => Assert.Equal((32, 32), (t.Width, t.Height)));
        // Steps of 24 (a quarter overlap); the last window is flush with the far edge.
        Assert.Equal([0, 24, 48, 72, 96, 120, 144, 168, 192, 216, 240, 264, 268], tiles.Select(t => t.X).Distinct());
        Assert.Equal([0, 24, 48, 68], tiles.Select(t => t.Y).Distinct());
    }

    [Fact]
    public void Windows_blend_back_into_the_image_exactly_where_the_model_changes_nothing()
    {
        var image = Ramp(300, 130);
        var model = new PixelwiseModel(Spec(), v => v);
        var result = TiledInference.Run(model, [image], [null], Small())[0];
        Assert.Equal((300, 130), (result.Width, result.Height));
        for (var i = 0; i < image.Data.Length; i++) Assert.Equal(image.Data[i], result.Data[i], 5);
        Assert.True(model.Inputs.Count > 40);
        Assert.All(model.BatchSizes, b => Assert.InRange(b, 1, 4));
    }

    [Fact]
    public void Super_resolution_windows_are_placed_at_scale_in_the_larger_output()
    {
        var image = Ramp(100, 70);
        var model = new PixelwiseModel(Spec(window: 32, scale: 2), v => v);
        var result = TiledInference.Run(model, [image], [null], Small())[0];
        Assert.Equal((200, 140), (result.Width, result.Height));
        Assert.All(model.Inputs, i => Assert.Equal((16, 16), (i.Width, i.Height)));
        for (var y = 0; y < 140; y++)
        for (var x = 0; x < 200; x++)
            Assert.Equal(image[x / 2, y / 2], result[x, y], 5);
    }

    [Fact]
    public void Neighbouring_weights_cross_fade_to_one_and_give_no_weight_to_a_window_edge_that_another_window_covers()
    {
        // Two 128-wide windows 96 apart: the left one shares its right side, the right one its left side.
        var left = TiledInference.Weights(128, 1, 0.25, WindowSides.Right);
        var right = TiledInference.Weights(128, 1, 0.25, WindowSides.Left);
        for (var x = 96; x < 128; x++) Assert.Equal(1f, left[x, 0] + right[x - 96, 0], 5);
        Assert.All(Enumerable.Range(0, 8), i => Assert.Equal(0f, left[127 - i, 0]));
        Assert.All(Enumerable.Range(0, 8), i => Assert.Equal(0f, right[i, 0]));
        Assert.Equal(1f, left[0, 0]);
        Assert.Equal(1f, right[127, 0]);
        // Unshared sides (the image's edges) keep full weight, so a pixel only one window covers still counts.
        Assert.All(TiledInference.Weights(32, 32, 0.25, 0).Data, w => Assert.Equal(1f, w));
    }

    [Fact]
    public void Blending_hides_window_borders_even_when_each_window_answers_differently()
    {
        var image = Ramp(256, 256);
        var blended = TiledInference.Run(new OffsetPerWindowModel(Spec()), [image], [null], Small())[0];
        // Each window adds its own offset (neighbours differ by up to 0.4); blended, a difference is spread linearly over
        // the middle half of the 8-pixel overlap (the outer quarters, where a window's convolutions saw padding, get no
        // weight), so no two neighbouring pixels differ by more than 0.4 / 4.
        var maxStep = 0f;
        for (var y = 0; y < 256; y++)
        for (var x = 1; x < 256; x++)
            maxStep = Math.Max(maxStep, Math.Abs((blended[x, y] - image[x, y]) - (blended[x - 1, y] - image[x - 1, y])));
        Assert.True(maxStep <= 0.4f / 4 + 1e-4f, $"a step of {maxStep} between neighbouring pixels");
        // The same windows without overlap or weights would show the offsets' steps.
        var hard = TiledInference.Run(new OffsetPerWindowModel(Spec()), [image], [null], Small() with { Overlap = 0 })[0];
        var hardStep = 0f;
        for (var x = 1; x < 256; x++) hardStep = Math.Max(hardStep, Math.Abs((hard[x, 5] - image[x, 5]) - (hard[x - 1, 5] - image[x - 1, 5])));
        Assert.True(hardStep > 0.39f, $"without overlap the step is {hardStep}");
    }

    [Fact]
    public void Inpainting_runs_only_the_windows_with_unknown_pixels_and_keeps_the_rest()
    {
        var image = Ramp(200, 200);
        var mask = ImageMask.Box(200, 200, 10, 10, 8, 8);
        var model = new PixelwiseModel(Spec(mask: true), v => v + 0.5f);
        var result = TiledInference.Run(model, [image], [mask], Small())[0];
        Assert.Single(model.Inputs);
        for (var i = 0; i < mask.Length; i++)
            if (!mask[i] && (i % 200 >= 32 || i / 200 >= 32)) Assert.Equal(image.Data[i], result.Data[i], 6);
        Assert.Equal(image[12, 12] + 0.5f, result[12, 12], 5);
    }

    [Fact]
    public void Bad_requests_are_told_what_is_wrong()
    {
        var model = new PixelwiseModel(Spec(mask: true), v => v);
        var image = new Image2D(100, 100);
        Assert.Contains("needs a mask", Assert.Throws<ImagingException>(() => TiledInference.Run(model, [image], [null], Small())).Message);
        Assert.Contains("covers the whole", Assert.Throws<ImagingException>(() =>
            TiledInference.Run(model, [image], [ImageMask.Box(100, 100, 0, 0, 60, 60)], Small())).Message);
        Assert.Contains("overlap", Assert.Throws<ImagingException>(() => (Small() with { Overlap = 1 }).Validate()).Message);
        Assert.Contains("not inside", Assert.Throws<ImagingException>(() => ImageMask.Box(10, 10, 5, 5, 6, 1)).Message);
    }
}
