using MedfusionDicom.Diffusion.Models;
using MedfusionDicom.Diffusion.Networks;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Schedulers;
using MedfusionDicom.Imaging;
using TorchSharp;
using MedfusionDicom.Torch;

namespace MedfusionDicom.Worker.Models;

/// <summary>Loads the model folders `medfusion train` writes: a Medfusion latent UNet (with its VAE) or a Med-cDiff UNet.</summary>
/// <param name="device">cpu, cuda, cuda:N or auto (<see cref="TorchDevices.Resolve"/>); the models load there.</param>
public sealed class DiffusionModelLoader(TilingOptions? tiling = null, string? device = null) : IModelLoader
{
    private readonly TilingOptions _tiling = tiling ?? new TilingOptions();
    private readonly torch.Device _device = TorchDevices.Resolve(device);

    public bool CanLoad(string modelDirectory)
    {
        if (!File.Exists(Path.Combine(modelDirectory, ModelLoader.ConfigFile)) || !File.Exists(Path.Combine(modelDirectory, ModelLoader.WeightsFile))) return false;
        var kind = ModelLoader.LoadCard(modelDirectory).Kind;
        return kind is ModelKind.Medfusion or ModelKind.Cdiff;
    }

    public IInferenceModel Load(string modelDirectory) => new DiffusionInferenceModel(modelDirectory, _tiling, _device);
}

/// <summary>
/// A trained diffusion model behind the worker's batch interface. A batch shares one random generator, seeded by its
/// first request; with batching off every request is reproducible from its own seed.
/// </summary>
internal sealed class DiffusionInferenceModel : IInferenceModel
{
    private readonly ModelCard _config;
    private readonly TilingOptions _tiling;
    private readonly MedfusionUNet _unet;
    private readonly MedfusionVae? _vae;
    private readonly LatentDiffusionPipeline? _synthesis;
    private readonly RestorationPipeline? _restoration;

    public DiffusionInferenceModel(string directory, TilingOptions tiling, torch.Device device)
    {
        var name = Path.GetFileName(Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar));
        var (config, unet, scheduler) = ModelLoader.LoadDiffusion(directory, device);
        _config = config;
        _tiling = tiling;
        _unet = unet;
        var size = config.ImageSize;
        if (config.Kind == ModelKind.Medfusion)
        {
            _vae = ModelLoader.LoadVae(ModelLoader.ResolveVae(directory, config), device);
            _synthesis = new LatentDiffusionPipeline(_vae, unet, scheduler, config.LatentScale);
            Descriptor = new ModelDescriptor(name, InferenceTask.Synthesize, size, size, size, size, config.Labels, SamplerNames.All.Reverse().ToList(), 25, scheduler.T,
                new ModelImageSpec { WindowSize = size, Intensity = config.IntensityConvention });
        }
        else
        {
            _restoration = ModelLoader.RestorationPipeline(config, unet, scheduler);
            var task = config.Task switch
            {
                RestorationTask.Denoise => InferenceTask.Denoise,
                RestorationTask.SuperResolve => InferenceTask.SuperResolve,
                _ => InferenceTask.Inpaint,
            };
            var input = task == InferenceTask.SuperResolve ? size / config.Scale : size;
            Descriptor = new ModelDescriptor(name, task, size, size, input, input, [], SamplerNames.All, config.RestorationSteps, scheduler.T, config.ImageSpec());
        }
        Descriptor = Descriptor with { Device = TorchDevices.Describe(device) };
    }

    public ModelDescriptor Descriptor { get; }

    public IReadOnlyList<float[][]> Run(IReadOnlyList<InferenceInput> inputs, SamplerSettings settings, Action<int, int> onStep, CancellationToken cancellationToken)
    {
        using var scope = torch.NewDisposeScope();
        using var generator = new torch.Generator(inputs[0].Seed);
        var options = new SamplingOptions
        {
            Steps = settings.Steps,
            Eta = settings.Eta,
            // Synthesis always starts from pure noise; restoration from the input at the requested or trained strength.
            Strength = _synthesis is not null ? 1.0 : settings.Strength > 0 ? settings.Strength : _config.MaxStrength,
            Generator = generator,
            Progress = new StepReporter(onStep),
            CancellationToken = cancellationToken,
        };
        var kind = SamplerNames.Parse(settings.Sampler);
        if (_synthesis is not null)
        {
            var labels = inputs.SelectMany(i => Enumerable.Repeat((long)Array.IndexOf(_config.Labels, i.Label), i.Count)).ToArray();
            // Guidance 0 in the API means "not set": the plain conditional estimate (scale 1).
            var guidance = settings.GuidanceScale == 0 ? 1.0 : settings.GuidanceScale;
            var images = _synthesis.Sample(labels, Descriptor.Height, Descriptor.Width, kind, options, guidance).contiguous().ToArray<float>();
            var plane = Descriptor.Width * Descriptor.Height;
            var results = new List<float[][]>();
            var offset = 0;
            foreach (var input in inputs)
            {
                results.Add(Enumerable.Range(0, input.Count).Select(k => images.AsSpan((offset + k) * plane, plane).ToArray()).ToArray());
                offset += input.Count;
            }
            return results;
        }
        // Images of any size: whole when they fit the memory budget, else tiled; windows of one size share batches.
        var model = new RestorationImageModel(_restoration!, Descriptor.ImageSpec, kind, options);
        var restored = TiledInference.Run(model, inputs.Select(i => i.Image!).ToList(), inputs.Select(i => i.Mask).ToList(), _tiling,
            cancellationToken: cancellationToken);
        return restored.Select(r => new[] { r.Data }).ToList();
    }

    public void WarmUp()
    {
        var input = Descriptor.Task == InferenceTask.Synthesize
            ? new InferenceInput(0, 1, Descriptor.Labels.FirstOrDefault())
            : new InferenceInput(0, 1, null, new Image2D(Descriptor.InputWidth, Descriptor.InputHeight),
                Descriptor.Task == InferenceTask.Inpaint ? Enumerable.Range(0, Descriptor.InputWidth * Descriptor.InputHeight).Select(i => i % 2 == 0).ToArray() : null);
        Run([input], new SamplerSettings(1, 0, 0, Descriptor.Samplers[0]), (_, _) => { }, CancellationToken.None);
    }

    public void Dispose()
    {
        _unet.Dispose();
        _vae?.Dispose();
    }

    private sealed class StepReporter(Action<int, int> onStep) : IProgress<SamplingProgress>
    {
        public void Report(SamplingProgress value) => onStep(value.Step, value.TotalSteps);
    }
}
