using TorchSharp;
using MedfusionDicom.Torch;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Networks;

/// <summary>Output of a VAE forward pass: the image, the deep-supervision images (finest first) and the KL term.</summary>
public sealed record VaeOutput(Tensor Reconstruction, IReadOnlyList<Tensor> Deep, Tensor Kl);

/// <summary>
/// Medfusion's variational autoencoder: residual encoder with strided convolutions, a mean/log-variance head,
/// reparameterisation, and a decoder with nearest-neighbour upsampling; state_dict keys follow the reference VAE.
/// </summary>
public sealed class MedfusionVae : nn.Module<Tensor, VaeOutput>
{
    private readonly ResBlock inc;
    private readonly ModuleList<DownBlock> encoders;
    private readonly Sequential out_enc;
    private readonly ResBlock inc_dec;
    private readonly ModuleList<UpBlock> decoders;
    private readonly ConvNormAct outc;
    private readonly ModuleList<ConvNormAct> outc_ver;

    public VaeConfig Config { get; }

    public MedfusionVae(VaeConfig config) : base(nameof(MedfusionVae))
    {
        Config = config;
        var (h, k, s) = (config.HidChs, config.KernelSizes, config.Strides);
        int depth = Stages.Depth(h, k, s);
        long g = config.NormGroups;

        inc = new ResBlock(config.InChannels, h[0], k[0], s[0], g, 0, null);
        encoders = nn.ModuleList(Enumerable.Range(1, depth - 1)
            .Select(i => new DownBlock(h[i - 1], h[i], k[i], s[i], k[i], g, 0, null)).ToArray());
        long emb2 = 2L * config.EmbChannels;
        out_enc = nn.Sequential(new ConvNormAct(h[^1], emb2, 3), new ConvNormAct(emb2, emb2, 1));
        inc_dec = new ResBlock(config.EmbChannels, h[^1], 3, 1, g, 0, null);
        decoders = nn.ModuleList(Enumerable.Range(0, depth - 1)
            .Select(i => new UpBlock(h[i + 1], h[i], k[i + 1], s[i + 1], s[i + 1], g, 0, null)).ToArray());
        outc = new ConvNormAct(h[0], config.OutChannels, 1, zeroConv: true);
        int deep = config.DeepSupervision < 0 ? depth - 1 : config.DeepSupervision;
        outc_ver = nn.ModuleList(Enumerable.Range(1, deep).Select(i => new ConvNormAct(h[i], config.OutChannels, 1, zeroConv: true)).ToArray());
        RegisterComponents();
    }

    /// <summary>Mean and log-variance (clamped to [-30, 20] as in the reference) of the posterior.</summary>
    public (Tensor mean, Tensor logvar) EncodeMoments(Tensor x)
    {
        var hcur = inc.call(x, null);
        foreach (var e in encoders) hcur = e.call(hcur, null);
        var moments = out_enc.call(hcur);
        var parts = moments.chunk(2, 1);
        return (parts[0], parts[1].clamp(-30.0, 20.0));
    }

    /// <summary>A latent sample (the reference's encode); with sample = false the posterior mean.</summary>
    public Tensor Encode(Tensor x, bool sample = true, Generator? generator = null)
    {
        var (mean, logvar) = EncodeMoments(x);
        if (!sample) return mean;
        return mean + (logvar * 0.5).exp() * SeededRandom.randn(mean.shape, mean.dtype, mean.device, generator);
    }

    public Tensor Decode(Tensor z) => DecodeWithDeep(z).image;

    private (Tensor image, List<Tensor> deep) DecodeWithDeep(Tensor z)
    {
        var deep = new List<Tensor>();
        var hcur = inc_dec.call(z, null);
        for (int i = decoders.Count - 1; i >= 0; i--)
        {
            if (i < outc_ver.Count) deep.Add(outc_ver[i].call(hcur));
            hcur = decoders[i].call(hcur, null, null);
        }
        deep.Reverse();
        return (outc.call(hcur), deep);
    }

    public override VaeOutput forward(Tensor x) => Forward(x, null);

    public VaeOutput Forward(Tensor x, Generator? generator)
    {
        var (mean, logvar) = EncodeMoments(x);
        var z = mean + (logvar * 0.5).exp() * SeededRandom.randn(mean.shape, mean.dtype, mean.device, generator);
        // KL(q || N(0, I)) summed over latent elements and averaged over the batch, as the reference.
        var kl = (mean.square() + logvar.exp() - 1.0 - logvar).sum() * (0.5 / x.size(0));
        var (image, deep) = DecodeWithDeep(z);
        return new VaeOutput(image, deep, kl);
    }
}
