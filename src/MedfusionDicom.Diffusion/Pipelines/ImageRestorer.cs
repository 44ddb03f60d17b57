using MedfusionDicom.Diffusion.Schedulers;
using MedfusionDicom.Imaging;
using TorchSharp;
using MedfusionDicom.Torch;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Pipelines;

/// <summary>
/// Runs a restoration pipeline on <see cref="Image2D"/>s in [-1, 1] of any size: the images are reflect-padded to a
/// multiple of the UNet's downsampling (the network is fully convolutional) and the results cropped back.
/// Shared by the CLI verbs, evaluation and the gRPC worker so all run exactly the same code.
/// </summary>
public static class ImageRestorer
{
    /// <summary>
    /// Denoise: input is the noisy image. SuperResolve: input is the low-resolution image; the result is scale times
    /// larger. Inpaint: mask (true = unknown) is required; the sampler puts the known pixels back after every step.
    /// Keeping them exact in the caller's stored values is <see cref="KnownPixels"/>' job.
    /// </summary>
    public static Image2D Restore(RestorationPipeline pipeline, Image2D input, bool[]? mask, int scale, SamplerKind sampler, SamplingOptions options) =>
        Restore(pipeline, [input], [mask], scale, sampler, options)[0];

    /// <summary>Restores images of one size as one batch (one forward pass per step for all of them).</summary>
    public static IReadOnlyList<Image2D> Restore(RestorationPipeline pipeline, IReadOnlyList<Image2D> inputs, IReadOnlyList<bool[]?> masks, int scale,
        SamplerKind sampler, SamplingOptions options)
    {
        if (inputs.Count == 0 || inputs.Count != masks.Count) throw new ArgumentException("give one mask entry (or null) per image, and at least one image");
        int width = inputs[0].Width, height = inputs[0].Height;
        if (inputs.Any(i => i.Width != width || i.Height != height)) throw new ArgumentException("the images of one batch must have one size");
        using var scope = NewDisposeScope();
        var device = pipeline.Device;
        var x = tensor(inputs.SelectMany(i => i.Data).ToArray(), new long[] { inputs.Count, 1, height, width }).to(device);
        Tensor condition = pipeline.Task == RestorationTask.SuperResolve ? RestorationPipeline.UpsampleCondition(x, scale) : x;
        Tensor? m = null, initial = null;
        if (pipeline.Task == RestorationTask.Inpaint)
        {
            if (masks.Any(k => k is null || k.Length != width * height)) throw new ArgumentException("inpainting needs a mask of the image's size");
            (condition, m) = RestorationPipeline.InpaintCondition(inputs, masks!, pipeline.Fill);
            (condition, m) = (condition.to(device), m.to(device));
            // A warm start from the input needs an estimate of the unknown region too: the harmonic (Laplace) fill.
            if (options.Strength < 1)
                initial = pipeline.Fill == InpaintFill.Harmonic ? condition : RestorationPipeline.InpaintCondition(inputs, masks!, InpaintFill.Harmonic).condition.to(device);
        }
        long h = condition.size(2), w = condition.size(3);
        int f = pipeline.UNet.Config.Strides.Aggregate(1, (a, s) => a * s);
        long ph = (f - h % f) % f, pw = (f - w % f) % f;
        if (ph > 0 || pw > 0)
        {
            condition = nn.functional.pad(condition, [0, pw, 0, ph], PaddingModes.Reflect);
            if (initial is not null) initial = nn.functional.pad(initial, [0, pw, 0, ph], PaddingModes.Reflect);
            if (m is not null) m = nn.functional.pad(m, [0, pw, 0, ph], PaddingModes.Constant, 0);
        }
        var y = pipeline.Restore(condition, m, sampler, options, initial)
            .narrow(2, 0, h).narrow(3, 0, w).clamp(-1.0, 1.0).contiguous().ToArray<float>();
        var plane = (int)(h * w);
        var results = new Image2D[inputs.Count];
        for (var k = 0; k < inputs.Count; k++) results[k] = new Image2D((int)w, (int)h, y.AsSpan(k * plane, plane).ToArray());
        return results;
    }
}
