using MedfusionDicom.Diffusion.Networks;
using MedfusionDicom.Diffusion.Schedulers;
using TorchSharp;
using MedfusionDicom.Torch;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Pipelines;

/// <summary>
/// Medfusion sampling: noise in the VAE's latent space, denoised by the class-conditional UNet (with classifier-free
/// guidance), then decoded. Latents are divided by LatentScale before diffusion (1 = the reference's unscaled latents).
/// </summary>
public sealed class LatentDiffusionPipeline(MedfusionVae vae, MedfusionUNet unet, GaussianScheduler scheduler, double latentScale = 1.0)
{
    public MedfusionVae Vae { get; } = vae;
    public MedfusionUNet UNet { get; } = unet;
    public GaussianScheduler Scheduler { get; } = scheduler;
    public double LatentScale { get; } = latentScale;

    /// <summary>
    /// Epsilon with classifier-free guidance: ε_u + s·(ε_c - ε_u), the conditional and unconditional halves in one batch;
    /// s = 1 is the plain conditional estimate, s = 0 the unconditional one.
    /// </summary>
    public static NoisePredictor Guided(MedfusionUNet unet, Tensor labels, double guidanceScale) => (x, t) =>
    {
        long b = x.size(0);
        using var tt = full([b], t, ScalarType.Float32, x.device);
        if (guidanceScale == 1.0) return unet.call(x, tt, labels);
        using var keep = ones([b], ScalarType.Float32, x.device);
        if (guidanceScale == 0.0) return unet.Forward(x, tt, labels, keep.mul(0.0)).output;
        var both = unet.Forward(cat([x, x]), cat([tt, tt]), cat([labels, labels]), cat([keep, keep.mul(0.0)])).output;
        var halves = both.chunk(2);
        return halves[1] + (halves[0] - halves[1]) * guidanceScale;
    };

    /// <summary>Images in [-1, 1], [N, C, H, W], one per label; H and W must be multiples of the VAE's downsampling.</summary>
    public Tensor Sample(long[] labels, int height, int width, SamplerKind sampler, SamplingOptions options, double guidanceScale = 1.0)
    {
        int f = Vae.Config.Downsampling;
        if (height % f != 0 || width % f != 0) throw new ArgumentException($"image size must be a multiple of {f}");
        using var scope = NewDisposeScope();
        using var eval = new EvalMode(Vae, UNet);
        var device = UNet.parameters().First().device;
        var lab = tensor(labels, ScalarType.Int64, device);
        var xT = SeededRandom.randn([labels.Length, Vae.Config.EmbChannels, height / f, width / f], ScalarType.Float32, device, options.Generator);
        var z = Sampler.Sample(sampler, Scheduler, Guided(UNet, lab, guidanceScale), xT, options);
        using (no_grad())
            return Vae.Decode(z * LatentScale).clamp(-1.0, 1.0).MoveToOuterDisposeScope();
    }
}

/// <summary>Puts modules in eval mode for a using block and restores their training flag afterwards.</summary>
public sealed class EvalMode : IDisposable
{
    private readonly (nn.Module module, bool training)[] saved;

    public EvalMode(params nn.Module[] modules)
    {
        saved = modules.Select(m => (m, m.training)).ToArray();
        foreach (var m in modules) m.eval();
    }

    public void Dispose()
    {
        foreach (var (m, t) in saved) m.train(t);
    }
}
