using MedfusionDicom.Diffusion.Evaluation;
using MedfusionDicom.Diffusion.Models;
using MedfusionDicom.Diffusion.Networks;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Schedulers;
using MedfusionDicom.Diffusion.Training;
using MedfusionDicom.Imaging;
using TorchSharp;
using MedfusionDicom.Torch;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Tests;

/// <summary>Four smooth synthetic "radiographs" (two classes) held in memory.</summary>
internal sealed class SyntheticSource(int size, int count = 4) : IImageSource
{
    public int Count => count;
    public int Size => size;
    public IReadOnlyList<string> Labels { get; } = ["A", "B"];
    public int Label(int i) => i % 2;
    public float[] Read(int i) => Enumerable.Range(0, size * size)
        .Select(p => (float)(0.8 * Math.Sin((p % size) * (0.2 + 0.1 * i)) * Math.Cos((p / size) * 0.15) - 0.1 * (i % 2))).ToArray();
    public void Dispose() { }
}

public class TrainingTests
{
    private static TrainConfig Base(ModelKind kind) => new()
    {
        Kind = kind, BatchSize = 4, Steps = 1000, EmaDecay = 0.9, CheckpointEverySeconds = 3600, Seed = 3, LearningRate = 3e-3,
    };

    /// <summary>Mean of the first and of the last `window` losses of n steps on the same four images.</summary>
    private static (double first, double last) Losses(Trainer t, int n, int window)
    {
        var losses = new List<double>();
        for (int i = 0; i < n; i++) { t.Run(null, CancellationToken.None, 1); losses.Add(t.State.RecentLoss); }
        return (losses.Take(window).Average(), losses.TakeLast(window).Average());
    }

    [Fact]
    public void Vae_overfits_one_batch()
    {
        var dir = Directory.CreateTempSubdirectory("vae").FullName;
        try
        {
            using var src = new SyntheticSource(16);
            using var t = new Trainer(Base(ModelKind.Vae) with { Vae = TestNets.TinyVae }, src, dir);
            var (first, last) = Losses(t, 60, 5);
            Assert.True(last < 0.5 * first, $"VAE loss {first:F3} -> {last:F3}");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Medfusion_unet_overfits_one_batch_with_a_frozen_vae_and_resumes()
    {
        var root = Directory.CreateTempSubdirectory("med").FullName;
        try
        {
            using var src = new SyntheticSource(16);
            using (var v = new Trainer(Base(ModelKind.Vae) with { Vae = TestNets.TinyVae }, src, Path.Combine(root, "vae"))) v.Run(null, CancellationToken.None, 2);
            var cfg = Base(ModelKind.Medfusion) with { Unet = TestNets.TinyUNet(4, 4, 2), VaeCheckpoint = "vae", CfgDropout = 0.5, LatentScale = 0 };
            long step;
            using (var t = new Trainer(cfg, src, root))
            {
                // Diffusion losses are noisy (random t and ε): compare averages over windows.
                var (first, last) = Losses(t, 80, 10);
                Assert.True(last < 0.8 * first, $"latent UNet loss {first:F3} -> {last:F3}");
                step = t.State.Step;
            }
            using var resumed = new Trainer(cfg, src, root);
            Assert.Equal(step, resumed.State.Step);
            var (_, unet, _) = ModelLoader.LoadDiffusion(root);
            Assert.Equal(new[] { "A", "B" }, ModelStore.LoadConfig(root).Labels);
            Assert.InRange(ModelStore.LoadConfig(root).LatentScale, 1e-3, 1e3); // measured from the latents, stored for sampling
            unet.Dispose();
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void Cdiff_unet_overfits_one_batch()
    {
        var dir = Directory.CreateTempSubdirectory("cdiff").FullName;
        try
        {
            using var src = new SyntheticSource(16);
            var cfg = Base(ModelKind.Cdiff) with { Task = RestorationTask.SuperResolve, Unet = TestNets.TinyUNet(2, 1, 0) };
            using var t = new Trainer(cfg, src, dir);
            var (first, last) = Losses(t, 80, 10);
            Assert.True(last < 0.8 * first, $"Med-cDiff loss {first:F3} -> {last:F3}");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Inpainting_keeps_known_pixels_exactly()
    {
        using var scope = NewDisposeScope();
        using var unet = new MedfusionUNet(TestNets.TinyUNet(RestorationPipeline.InputChannels(RestorationTask.Inpaint), 1, 0));
        var pipe = new RestorationPipeline(unet, new GaussianScheduler(SchedulerConfig.MedCDiff), RestorationTask.Inpaint);
        var image = rand([1, 1, 16, 16]) * 2 - 1;
        var mask = zeros([1, 1, 16, 16]);
        mask[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(4, 10), TensorIndex.Slice(5, 12)] = ones([1, 1, 6, 7]);
        using var g = new Generator(1);
        var result = pipe.Restore(RestorationPipeline.MaskCondition(image, mask), mask, SamplerKind.Ddim, new SamplingOptions { Steps = 4, Generator = g });
        var known = mask.eq(0.0);
        Assert.True(result.masked_select_eq(image, known));
        Assert.True(TestNets.MaxAbsDiff(result * mask, image * mask) > 1e-3);
    }

    [Theory]
    [InlineData(InpaintFill.Zero)]
    [InlineData(InpaintFill.Harmonic)]
    public void Inpainting_condition_keeps_the_known_pixels_and_fills_the_rest(InpaintFill fill)
    {
        using var scope = NewDisposeScope();
        using var src = new SyntheticSource(16);
        var clean = Enumerable.Range(0, 2).Select(i => new Image2D(16, 16, src.Read(i))).ToList();
        var cfg = Base(ModelKind.Cdiff) with { Task = RestorationTask.Inpaint, MinBox = 5, MaxBox = 7, InpaintFill = fill };
        var (condition, mask) = Trainer.Degrade(cfg, clean, new Random(4));
        Assert.NotNull(mask);
        for (int k = 0; k < clean.Count; k++)
        {
            var c = condition[k, 0].contiguous().ToArray<float>();
            var unknown = mask![k, 0].contiguous().ToArray<float>().Select(v => v > 0.5f).ToArray();
            Assert.InRange(unknown.Count(u => u), 25, 49);
            var holed = clean[k].Clone();
            for (int i = 0; i < unknown.Length; i++) if (unknown[i]) holed.Data[i] = 0;
            var expected = fill == InpaintFill.Harmonic ? ImageFill.Harmonic(holed, unknown).Data : holed.Data;
            Assert.Equal(expected, c);
            for (int i = 0; i < unknown.Length; i++) if (!unknown[i]) Assert.Equal(clean[k].Data[i], c[i]);
        }
    }

    [Fact]
    public void Inpainting_unet_overfits_one_batch_with_the_loss_in_the_mask()
    {
        var dir = Directory.CreateTempSubdirectory("inpaint").FullName;
        try
        {
            using var src = new SyntheticSource(16);
            var cfg = Base(ModelKind.Cdiff) with
            {
                Task = RestorationTask.Inpaint, MinBox = 4, MaxBox = 8, InpaintFill = InpaintFill.Harmonic, LossInMaskOnly = true,
                Unet = TestNets.TinyUNet(RestorationPipeline.InputChannels(RestorationTask.Inpaint), 1, 0),
            };
            using var t = new Trainer(cfg, src, dir);
            var (first, last) = Losses(t, 80, 10);
            Assert.True(last < 0.8 * first, $"Med-cDiff inpainting loss {first:F3} -> {last:F3}");
            Assert.Equal(InpaintFill.Harmonic, ModelStore.LoadConfig(dir).InpaintFill); // inference builds the same condition
            Assert.True(ModelStore.LoadConfig(dir).LossInMaskOnly);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData(InpaintFill.Zero, 1.0)]
    [InlineData(InpaintFill.Harmonic, 1.0)]
    [InlineData(InpaintFill.Harmonic, 0.3)]
    public void Restorer_inpaints_only_the_mask_with_either_fill(InpaintFill fill, double strength)
    {
        using var scope = NewDisposeScope();
        using var unet = new MedfusionUNet(TestNets.TinyUNet(RestorationPipeline.InputChannels(RestorationTask.Inpaint), 1, 0));
        TestNets.Randomize(unet, 5);
        var pipe = new RestorationPipeline(unet, new GaussianScheduler(SchedulerConfig.MedCDiff), RestorationTask.Inpaint, fill);
        using var src = new SyntheticSource(16);
        var image = new Image2D(16, 16, src.Read(1));
        var mask = ImageMask.Box(16, 16, 3, 4, 6, 5);
        using var g = new Generator(2);
        var result = ImageRestorer.Restore(pipe, image, mask, 1, SamplerKind.Ddim, new SamplingOptions { Steps = 4, Strength = strength, Generator = g });
        for (int i = 0; i < mask.Length; i++) if (!mask[i]) Assert.Equal(image.Data[i], result.Data[i]);
        Assert.True(Enumerable.Range(0, mask.Length).Where(i => mask[i]).Max(i => Math.Abs(result.Data[i] - image.Data[i])) > 1e-3);
    }

    [Fact]
    public void Guided_sampling_is_seeded_and_decodes_to_images()
    {
        using var scope = NewDisposeScope();
        using var vae = new MedfusionVae(TestNets.TinyVae);
        using var unet = new MedfusionUNet(TestNets.TinyUNet(4, 4, 2));
        TestNets.Randomize(unet, 3);
        TestNets.Randomize(vae, 4); // its output head starts at zero, which would decode every latent to 0
        var pipe = new LatentDiffusionPipeline(vae, unet, new GaussianScheduler(SchedulerConfig.Medfusion));
        Tensor Run(double scale)
        {
            using var g = new Generator(9);
            return pipe.Sample([0, 1], 16, 16, SamplerKind.DpmSolver, new SamplingOptions { Steps = 3, Generator = g }, scale);
        }
        var a = Run(2.0);
        Assert.Equal(new long[] { 2, 1, 16, 16 }, a.shape);
        Assert.Equal(0, TestNets.MaxAbsDiff(a, Run(2.0)));
        Assert.True(TestNets.MaxAbsDiff(a, Run(1.0)) > 0);
    }
}

internal static class TensorAsserts
{
    /// <summary>Whether a equals b bit for bit wherever where is true.</summary>
    public static bool masked_select_eq(this Tensor a, Tensor b, Tensor where)
    {
        using var scope = NewDisposeScope();
        return (a.eq(b) | where.logical_not()).all().item<bool>();
    }
}
