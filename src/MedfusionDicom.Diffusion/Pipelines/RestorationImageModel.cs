using MedfusionDicom.Diffusion.Schedulers;
using MedfusionDicom.Imaging;

namespace MedfusionDicom.Diffusion.Pipelines;

/// <summary>A restoration pipeline with its sampler settings, as the imaging path's <see cref="IImageModel"/>: each call is one batch.</summary>
public sealed class RestorationImageModel(RestorationPipeline pipeline, ModelImageSpec spec, SamplerKind sampler, SamplingOptions options) : IImageModel
{
    public ModelImageSpec Spec { get; } = spec;

    public IReadOnlyList<Image2D> Run(IReadOnlyList<Image2D> inputs, IReadOnlyList<bool[]?> masks, CancellationToken cancellationToken) =>
        ImageRestorer.Restore(pipeline, inputs, masks, Spec.Scale, sampler,
            cancellationToken.CanBeCanceled ? options with { CancellationToken = cancellationToken } : options);
}
