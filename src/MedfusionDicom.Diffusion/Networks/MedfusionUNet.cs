using TorchSharp;
using MedfusionDicom.Torch;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Networks;

/// <summary>Sinusoidal timestep features: [sin(t·f), cos(t·f)], f_k = exp(-ln(10000)·k / (half - 1)).</summary>
public sealed class SinusoidalPosEmb : nn.Module<Tensor, Tensor>
{
    private readonly long dim;
    public SinusoidalPosEmb(long dim) : base(nameof(SinusoidalPosEmb)) { this.dim = dim; }

    public override Tensor forward(Tensor t)
    {
        long half = dim / 2;
        var freqs = (arange(half, ScalarType.Float32, t.device) * (-Math.Log(10000) / (half - 1))).exp();
        var args = t.to(ScalarType.Float32).unsqueeze(1) * freqs.unsqueeze(0);
        var emb = cat([args.sin(), args.cos()], -1);
        return dim % 2 == 1 ? nn.functional.pad(emb, [0, 1, 0, 0]) : emb;
    }
}

/// <summary>Timestep embedding: sinusoid (dim/4) -> Linear -> SiLU -> Linear (keys time_emb.1 and time_emb.3).</summary>
public sealed class TimeEmbedding : nn.Module<Tensor, Tensor>
{
    private readonly Sequential time_emb;

    public TimeEmbedding(long embDim) : base(nameof(TimeEmbedding))
    {
        long pos = embDim / 4;
        time_emb = nn.Sequential(new SinusoidalPosEmb(pos), nn.Linear(pos, embDim), nn.SiLU(), nn.Linear(embDim, embDim));
        RegisterComponents();
    }

    public override Tensor forward(Tensor t) => time_emb.call(t);
}

/// <summary>Class-label embedding (LabelEmbedder: a plain nn.Embedding).</summary>
public sealed class LabelEmbedder : nn.Module<Tensor, Tensor>
{
    private readonly Embedding embedding;

    public LabelEmbedder(long numClasses, long embDim) : base(nameof(LabelEmbedder))
    {
        embedding = nn.Embedding(numClasses, embDim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor labels) => embedding.call(labels);
}

/// <summary>
/// Medfusion's noise-estimating UNet (and, without a label embedder and with the condition concatenated to the input,
/// Med-cDiff's): residual blocks with GroupNorm, additive skips, a per-block projection of the time (+ label)
/// embedding. Keys follow estimators/unet.UNet.
/// </summary>
public sealed class MedfusionUNet : nn.Module<Tensor, Tensor, Tensor?, Tensor>
{
    private readonly TimeEmbedding time_embedder;
    private readonly LabelEmbedder? cond_embedder;
    private readonly ResBlock inc;
    private readonly ModuleList<DownBlock> encoders;
    private readonly ModuleList<UpBlock> decoders;
    private readonly OutBlock outc;
    private readonly ModuleList<OutBlock> outc_ver;

    public UNetConfig Config { get; }

    public MedfusionUNet(UNetConfig config) : base(nameof(MedfusionUNet))
    {
        Config = config;
        var (h, k, s) = (config.HidChs, config.KernelSizes, config.Strides);
        int depth = Stages.Depth(h, k, s);
        if (h.Any(c => c % config.NormGroups != 0)) throw new ArgumentException($"every hidChs entry must be divisible by normGroups ({config.NormGroups})");
        long g = config.NormGroups;
        long e = config.EmbDim;

        time_embedder = new TimeEmbedding(e);
        if (config.NumClasses > 0) cond_embedder = new LabelEmbedder(config.NumClasses, e);
        inc = new ResBlock(config.InChannels, h[0], k[0], s[0], g, config.Dropout, e);
        encoders = nn.ModuleList(Enumerable.Range(1, depth - 1)
            .Select(i => new DownBlock(h[i - 1], h[i], k[i], s[i], k[i], g, config.Dropout, e)).ToArray());
        decoders = nn.ModuleList(Enumerable.Range(0, depth - 1)
            .Select(i => new UpBlock(h[i + 1], h[i], k[i + 1], s[i + 1], s[i + 1], g, config.Dropout, e)).ToArray());
        outc = new OutBlock(h[0], config.OutChannels);
        int deep = config.DeepSupervision < 0 ? depth - 1 : config.DeepSupervision;
        outc_ver = nn.ModuleList(Enumerable.Range(1, deep).Select(i => new OutBlock(h[i], config.OutChannels)).ToArray());
        RegisterComponents();
    }

    /// <summary>The noise estimate for x_t at timesteps t (float or integer, [B]); labels [B] int64 or null.</summary>
    public override Tensor forward(Tensor x, Tensor t, Tensor? labels) => Forward(x, t, labels, null).output;

    /// <summary>
    /// Full forward pass. keepLabel [B] (1 keep, 0 drop) zeroes the label embedding per sample: a dropped label adds
    /// nothing, which is what the reference's condition=None does; classifier-free guidance training uses it.
    /// </summary>
    public (Tensor output, List<Tensor> deep) Forward(Tensor x, Tensor t, Tensor? labels, Tensor? keepLabel)
    {
        var emb = time_embedder.call(t);
        if (labels is not null && cond_embedder is not null)
        {
            var c = cond_embedder.call(labels);
            if (keepLabel is not null) c = c * keepLabel.to(c.dtype).unsqueeze(1);
            emb = emb + c;
        }
        var feats = new Tensor[encoders.Count + 1];
        feats[0] = inc.call(x, emb);
        for (int i = 0; i < encoders.Count; i++) feats[i + 1] = encoders[i].call(feats[i], emb);
        for (int i = decoders.Count; i > 0; i--) feats[i - 1] = decoders[i - 1].call(feats[i], feats[i - 1], emb);
        var deep = outc_ver.Select((o, i) => o.call(feats[i + 1])).ToList();
        return (outc.call(feats[0]), deep);
    }
}
