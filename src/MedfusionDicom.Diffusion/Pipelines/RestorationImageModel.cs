using MedfusionDicom.Diffusion.Schedulers;
using MedfusionDicom.Imaging;
using TorchSharp;
using MedfusionDicom.Torch;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Pipelines;

/// <summary>
/// A restoration pipeline with its sampler settings, as the imaging path's <see cref="IImageModel"/>: each call is one
/// batch. Its noise is <see cref="PositionalNoise"/> keyed on each window's place in its image, so the windows of a
/// tiled image agree where they overlap; the seeds come from the options' generator, so a seeded run repeats.
/// </summary>
public sealed class RestorationImageModel(RestorationPipeline pipeline, ModelImageSpec spec, SamplerKind sampler, SamplingOptions options) : IImageModel
{
    public ModelImageSpec Spec { get; } = spec;

    public long NewNoiseSeed()
    {
        using var seed = randint(int.MaxValue, [1], ScalarType.Int64, generator: options.Generator);
        return seed.item<long>();
    }

    public IReadOnlyList<Image2D> Run(IReadOnlyList<ModelWindow> windows, CancellationToken cancellationToken)
    {
        var noise = new PositionalNoise(windows.Select(w => (w.NoiseSeed, w.OutputX, w.OutputY)).ToList());
        var run = options with { Noise = noise, CancellationToken = cancellationToken.CanBeCanceled ? cancellationToken : options.CancellationToken };
        return ImageRestorer.Restore(pipeline, windows.Select(w => w.Input).ToList(), windows.Select(w => w.Mask).ToList(), Spec.Scale, sampler, run);
    }
}
