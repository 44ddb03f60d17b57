using MedfusionDicom.Diffusion.Networks;
using MedfusionDicom.Diffusion.Schedulers;
using MedfusionDicom.Imaging;
using TorchSharp;
using MedfusionDicom.Torch;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Pipelines;

public enum RestorationTask { Denoise, SuperResolve, Inpaint }

/// <summary>What the inpainting condition holds where the image is unknown.</summary>
public enum InpaintFill
{
    /// <summary>Zeros, as Med-cDiff: the network must work out the whole region from the mask's surroundings.</summary>
    Zero,
    /// <summary>
    /// The harmonic (Laplace) fill of the surroundings: the network starts from the classic answer and only has to
    /// learn what it misses (edges that cross the region, texture), which a small network learns far sooner.
    /// </summary>
    Harmonic,
}

/// <summary>
/// Med-cDiff: a DDPM whose UNet sees [x_t, condition] (and the mask for inpainting) concatenated on channels.
/// The condition is the degraded image at the output size: the noisy image, the bicubic-upsampled low-resolution
/// image, or the image with the unknown region zeroed or filled (<see cref="InpaintFill"/>). Tensors are [B, 1, H, W] in
/// [-1, 1]; masks are 1 where unknown.
/// </summary>
public sealed class RestorationPipeline(MedfusionUNet unet, GaussianScheduler scheduler, RestorationTask task, InpaintFill fill = InpaintFill.Zero)
{
    public MedfusionUNet UNet { get; } = unet;
    public GaussianScheduler Scheduler { get; } = scheduler;
    public RestorationTask Task { get; } = task;
    public InpaintFill Fill { get; } = fill;

    /// <summary>Where the UNet's weights are, and so where its inputs go.</summary>
    public Device Device => UNet.parameters().First().device;

    /// <summary>Input channels of the UNet for an image of `channels` channels.</summary>
    public static int InputChannels(RestorationTask task, int channels = 1) => 2 * channels + (task == RestorationTask.Inpaint ? 1 : 0);

    /// <summary>The network input: x_t, the condition, and for inpainting the mask.</summary>
    public static Tensor NetworkInput(Tensor xt, Tensor condition, Tensor? mask) => mask is null ? cat([xt, condition], 1) : cat([xt, condition, mask], 1);

    /// <summary>The condition of super-resolution: the low-resolution image upsampled (bicubic) by `scale`.</summary>
    public static Tensor UpsampleCondition(Tensor lowRes, int scale) =>
        nn.functional.interpolate(lowRes, [lowRes.size(2) * scale, lowRes.size(3) * scale], mode: InterpolationMode.Bicubic, align_corners: false).clamp(-1.0, 1.0);

    /// <summary>The condition of inpainting: the known pixels, zero where unknown.</summary>
    public static Tensor MaskCondition(Tensor image, Tensor mask) => image * (1.0 - mask);

    /// <summary>
    /// The condition and mask tensors of inpainting for images of one size (mask entries true where unknown): the known
    /// pixels, and zeros or the harmonic fill where unknown. Training and inference both build it here.
    /// </summary>
    public static (Tensor condition, Tensor mask) InpaintCondition(IReadOnlyList<Image2D> images, IReadOnlyList<bool[]> masks, InpaintFill fill)
    {
        int w = images[0].Width, h = images[0].Height, plane = w * h;
        if (images.Count != masks.Count || images.Any(i => i.Width != w || i.Height != h) || masks.Any(m => m.Length != plane))
            throw new ArgumentException("inpainting needs one mask of the image's size per image, all of one size");
        var condition = new float[images.Count * plane];
        var mask = new float[images.Count * plane];
        for (int k = 0; k < images.Count; k++)
        {
            var known = images[k].Clone();
            for (int i = 0; i < plane; i++)
                if (masks[k][i]) { known.Data[i] = 0; mask[k * plane + i] = 1; }
            var filled = fill == InpaintFill.Harmonic ? ImageFill.Harmonic(known, masks[k]) : known;
            filled.Data.CopyTo(condition, k * plane);
        }
        long[] shape = [images.Count, 1, h, w];
        return (tensor(condition, shape), tensor(mask, shape));
    }

    /// <summary>
    /// Restores from a condition built by the helpers above (mask required for inpainting only). With
    /// <see cref="SamplingOptions.Strength"/> below 1 the reverse process starts from <paramref name="initial"/> (default:
    /// the condition; for inpainting pass a fill of the unknown region) noised to the start timestep.
    /// </summary>
    public Tensor Restore(Tensor condition, Tensor? mask, SamplerKind sampler, SamplingOptions options, Tensor? initial = null)
    {
        if ((Task == RestorationTask.Inpaint) != (mask is not null)) throw new ArgumentException("a mask is given for, and only for, inpainting");
        using var scope = NewDisposeScope();
        using var eval = new EvalMode(UNet);
        NoisePredictor model = (x, t) =>
        {
            using var tt = full([x.size(0)], t, ScalarType.Float32, x.device);
            return UNet.call(NetworkInput(x, condition, mask), tt, null);
        };
        var opts = options with { ClipX0 = true };
        if (mask is not null)
        {
            var known = MaskCondition(condition, mask);
            var keep = 1.0 - mask;
            // Known pixels are replaced after every step by the known image noised to the current level (RePaint's
            // replacement), and exactly at the end, so the output keeps them bit for bit.
            opts = opts with
            {
                AfterStep = (x, t) => t < 0
                    ? x * mask + known * keep
                    : x * mask + Scheduler.AddNoise(known, options.DrawNoise(known),
                        full([x.size(0)], t, ScalarType.Int64, x.device)) * keep,
            };
        }
        var xT = options.DrawNoise(condition);
        if (options.Strength < 1)
        {
            using var t0 = full([condition.size(0)], options.StartTimestep(Scheduler.T), ScalarType.Int64, condition.device);
            xT = Scheduler.AddNoise(initial ?? condition, xT, t0);
        }
        return Sampler.Sample(sampler, Scheduler, model, xT, opts).MoveToOuterDisposeScope();
    }
}
