using MedfusionDicom.Diffusion.Models;
using MedfusionDicom.Diffusion.Networks;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Training;
using MedfusionDicom.Imaging;
using MedfusionDicom.Worker.Models;

namespace MedfusionDicom.Worker.Tests;

/// <summary>The worker's adapter over real (tiny, untrained) diffusion networks saved the way `medfusion train` saves them.</summary>
public sealed class DiffusionModelTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("worker-models-").FullName;

    private string SaveRestorationModel(string name, RestorationTask task, int scale = 2, InpaintFill fill = InpaintFill.Zero)
    {
        var config = new TrainConfig
        {
            Kind = ModelKind.Cdiff,
            Task = task,
            InpaintFill = fill,
            Scale = scale,
            ImageSize = 16,
            Unet = new UNetConfig
            {
                InChannels = RestorationPipeline.InputChannels(task), OutChannels = 1, HidChs = [8, 8, 16, 16], NormGroups = 4, EmbDim = 16,
            },
        };
        using var unet = new MedfusionUNet(config.Unet);
        var weights = unet.state_dict();
        var dir = Path.Combine(_root, name);
        ModelStore.Save(dir, config, weights, weights, new TrainState { Step = 1 });
        return dir;
    }

    [Theory]
    [InlineData(RestorationTask.Denoise, InferenceTask.Denoise, 16, InpaintFill.Zero)]
    [InlineData(RestorationTask.SuperResolve, InferenceTask.SuperResolve, 8, InpaintFill.Zero)]
    [InlineData(RestorationTask.Inpaint, InferenceTask.Inpaint, 16, InpaintFill.Zero)]
    [InlineData(RestorationTask.Inpaint, InferenceTask.Inpaint, 16, InpaintFill.Harmonic)]
    public void Trained_model_folders_load_and_run_batches(RestorationTask task, InferenceTask expected, int inputSize, InpaintFill fill)
    {
        var loader = new DiffusionModelLoader(device: "cpu");
        var dir = SaveRestorationModel($"m-{task}-{fill}", task, fill: fill);
        Assert.True(loader.CanLoad(dir));
        using var model = loader.Load(dir);
        Assert.Equal(expected, model.Descriptor.Task);
        Assert.Equal("cpu", model.Descriptor.Device);
        Assert.Equal((16, 16, inputSize, inputSize), (model.Descriptor.Width, model.Descriptor.Height, model.Descriptor.InputWidth, model.Descriptor.InputHeight));
        model.WarmUp();
        var rng = new Random(5);
        var mask = Enumerable.Range(0, inputSize * inputSize).Select(i => i % inputSize < 6).ToArray();
        var inputs = Enumerable.Range(0, 3).Select(k => new InferenceInput((ulong)k, 1, null,
            new Image2D(inputSize, inputSize, Enumerable.Range(0, inputSize * inputSize).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray()),
            task == RestorationTask.Inpaint ? mask : null)).ToList();
        // From pure noise (the model's default here), and warm-started from the input (for inpainting: its harmonic fill).
        foreach (var strength in new[] { 0f, 0.3f })
        {
            var steps = new List<int>();
            var outputs = model.Run(inputs, new SamplerSettings(4, 0, 0, "ddim", strength), (s, _) => steps.Add(s), CancellationToken.None);
            Assert.Equal([1, 2, 3, 4], steps);
            Assert.Equal(3, outputs.Count);
            for (var k = 0; k < 3; k++)
            {
                var image = Assert.Single(outputs[k]);
                Assert.Equal(16 * 16, image.Length);
                Assert.All(image, v => Assert.InRange(v, -1f, 1f));
                if (task == RestorationTask.Inpaint)
                    for (var i = 0; i < mask.Length; i++) if (!mask[i]) Assert.Equal(inputs[k].Image!.Data[i], image[i]);
            }
        }
    }

    [Fact]
    public void An_inpainting_model_gets_the_fill_its_config_names()
    {
        // The same weights, once told to expect zeros in the mask and once the harmonic fill: only the condition differs.
        var zero = SaveRestorationModel("inpaint-zero", RestorationTask.Inpaint);
        var harmonic = Path.Combine(_root, "inpaint-harmonic");
        Directory.CreateDirectory(harmonic);
        foreach (var f in Directory.GetFiles(zero)) File.Copy(f, Path.Combine(harmonic, Path.GetFileName(f)));
        var configPath = Path.Combine(harmonic, ModelStore.ConfigFile);
        (ModelStore.LoadConfig(harmonic) with { InpaintFill = InpaintFill.Harmonic }).Save(configPath);
        var mask = Enumerable.Range(0, 256).Select(i => i % 16 is >= 4 and < 10 && i / 16 is >= 3 and < 12).ToArray();
        var image = Enumerable.Range(0, 256).Select(i => (float)Math.Sin(i * 0.3)).ToArray();
        float[] Run(string dir)
        {
            using var model = new DiffusionModelLoader().Load(dir);
            return model.Run([new InferenceInput(1, 7, null, new Image2D(16, 16, image), mask)], new SamplerSettings(3, 0, 0, "ddim"), (_, _) => { }, CancellationToken.None)[0][0];
        }
        var (a, b) = (Run(zero), Run(harmonic));
        Assert.Equal(a.Where((_, i) => !mask[i]), b.Where((_, i) => !mask[i]));
        Assert.True(Enumerable.Range(0, 256).Where(i => mask[i]).Max(i => Math.Abs(a[i] - b[i])) > 1e-4);
    }

    [Fact]
    public void A_cancelled_batch_stops_between_steps()
    {
        using var model = new DiffusionModelLoader().Load(SaveRestorationModel("dn", RestorationTask.Denoise));
        using var cts = new CancellationTokenSource();
        var steps = 0;
        Assert.ThrowsAny<OperationCanceledException>(() => model.Run([new InferenceInput(1, 1, null, new Image2D(16, 16))],
            new SamplerSettings(50, 0, 0, "ddim"), (s, _) =>
            {
                steps = s;
                if (s == 2) cts.Cancel();
            }, cts.Token));
        Assert.Equal(2, steps);
    }

    [Fact]
    public void Folders_that_are_not_diffusion_models_are_not_claimed()
    {
        var empty = Directory.CreateDirectory(Path.Combine(_root, "notes")).FullName;
        Assert.False(new DiffusionModelLoader().CanLoad(empty));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}

/// <summary>The demo models bundled under models/ are what `medfusion worker` serves by default.</summary>
public class BundledModelTests
{
    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MedfusionDicom.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("repository root (MedfusionDicom.sln) not found above the test binaries");
    }

    [Fact]
    public void The_worker_loads_every_bundled_model()
    {
        using var catalog = new ModelCatalog();
        catalog.LoadFrom(Path.Combine(RepoRoot(), "models"), [new DiffusionModelLoader()], Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var models = catalog.Models.ToDictionary(m => m.Descriptor.Name, m => m.Descriptor);
        Assert.Equal(InferenceTask.Synthesize, models["medfusion-cxr"].Task);
        Assert.Equal(["NORMAL", "PNEUMONIA"], models["medfusion-cxr"].Labels);
        Assert.Equal(InferenceTask.Denoise, models["cdiff-cxr-denoise"].Task);
        Assert.Equal(InferenceTask.Inpaint, models["cdiff-cxr-inpaint"].Task);
        var sr = models["cdiff-cxr-sr2x"];
        Assert.Equal((InferenceTask.SuperResolve, 128, 64), (sr.Task, sr.Width, sr.InputWidth));
    }
}
