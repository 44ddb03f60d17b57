using MedfusionDicom.Torch.NN;
using TorchSharp;
using MedfusionDicom.Torch;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Networks;

// The building blocks of the reference Medfusion implementation (medical_diffusion/models/utils/conv_blocks.py),
// 2-D only. Field names are the reference's attribute names because they become the state_dict keys that released
// checkpoints use; activations have no parameters and therefore no registered name.

/// <summary>Same-size padding of MONAI's get_padding: (kernel - stride + 1) / 2, truncated.</summary>
internal static class Padding
{
    public static long Of(long kernel, long stride) => (kernel - stride + 1) / 2;
}

/// <summary>Checks shared by the VAE and UNet constructors: one kernel size and stride per stage of hidChs.</summary>
internal static class Stages
{
    public static int Depth(int[] hidChs, int[] kernelSizes, int[] strides)
    {
        if (hidChs.Length != strides.Length || kernelSizes.Length != strides.Length || strides.Length < 2)
            throw new ArgumentException("hidChs, kernelSizes and strides must have the same length (at least 2)");
        return strides.Length;
    }
}

/// <summary>Conv -> optional GroupNorm -> optional dropout -> optional SiLU (the reference's BasicBlock).</summary>
public sealed class ConvNormAct : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv;
    private readonly GroupNorm? norm;
    private readonly double dropout;
    private readonly bool act;

    public ConvNormAct(long inChannels, long outChannels, long kernel, long stride = 1, long? normGroups = null, bool act = false,
        double dropout = 0, bool zeroConv = false) : base(nameof(ConvNormAct))
    {
        conv = nn.Conv2d(inChannels, outChannels, kernel, stride, Padding.Of(kernel, stride));
        if (zeroConv) ZeroInit(conv);
        if (normGroups is { } g) norm = Layers.GroupNorm(g, outChannels);
        this.dropout = dropout;
        this.act = act;
        RegisterComponents();
    }

    /// <summary>Zero-initialised output convolutions make a fresh residual branch or output head start as zero.</summary>
    internal static void ZeroInit(Conv2d c)
    {
        nn.init.zeros_(c.weight);
        if (c.bias is not null) nn.init.zeros_(c.bias);
    }

    public override Tensor forward(Tensor input)
    {
        var x = conv.call(input);
        if (norm is not null) x = norm.call(x);
        if (dropout > 0) x = nn.functional.dropout(x, dropout, training);
        if (act) x = x.silu();
        return x;
    }
}

/// <summary>ConvNormAct plus a 1x1 projection skip when the channel count changes (BasicResBlock).</summary>
public sealed class ResConvNormAct : nn.Module<Tensor, Tensor>
{
    private readonly ConvNormAct basic_block;
    private readonly Conv2d? conv_res;

    public ResConvNormAct(long inChannels, long outChannels, long kernel, long stride, long normGroups, double dropout, bool zeroConv)
        : base(nameof(ResConvNormAct))
    {
        basic_block = new ConvNormAct(inChannels, outChannels, kernel, stride, normGroups, act: true, dropout, zeroConv);
        if (inChannels != outChannels) conv_res = nn.Conv2d(inChannels, outChannels, 1, stride, Padding.Of(1, stride));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => basic_block.call(input) + (conv_res is null ? input : conv_res.call(input));
}

/// <summary>
/// Two residual conv blocks (UnetResBlock); the embedding, projected per block, is added after the first one only,
/// as in the reference (its loop condition is i &lt; n_blocks - 1). The second block's conv starts at zero.
/// </summary>
public sealed class ResBlock : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly ModuleList<ResConvNormAct> block_seq;
    private readonly Sequential? local_embedder;

    public ResBlock(long inChannels, long outChannels, long kernel, long stride, long normGroups, double dropout, long? embChannels)
        : base(nameof(ResBlock))
    {
        block_seq = nn.ModuleList(
            new ResConvNormAct(inChannels, outChannels, kernel, stride, normGroups, dropout, zeroConv: false),
            new ResConvNormAct(outChannels, outChannels, kernel, stride, normGroups, dropout, zeroConv: true));
        if (embChannels is { } e) local_embedder = nn.Sequential(nn.SiLU(), nn.Linear(e, outChannels));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor? emb)
    {
        Tensor? bias = null;
        if (emb is not null && local_embedder is not null)
        {
            var e = local_embedder.call(emb);
            bias = e.reshape(e.size(0), e.size(1), 1, 1);
        }
        for (int i = 0; i < block_seq.Count; i++)
        {
            x = block_seq[i].call(x);
            if (bias is not null && i < block_seq.Count - 1) x = x + bias;
        }
        return x;
    }
}

/// <summary>Strided convolution (BasicDown with learnable interpolation); the nested name matches down_op.down_op.</summary>
public sealed class Downsample : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d down_op;

    public Downsample(long inChannels, long outChannels, long kernel, long stride) : base(nameof(Downsample))
    {
        down_op = nn.Conv2d(inChannels, outChannels, kernel, stride, Padding.Of(kernel, stride));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => down_op.call(input);
}

/// <summary>Nearest-exact resize to (n - 1)·stride + kernel - 2·padding, then a 3x3 conv (BasicUp).</summary>
public sealed class Upsample : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d up_op;
    private readonly long kernel, stride;

    public Upsample(long inChannels, long outChannels, long kernel, long stride) : base(nameof(Upsample))
    {
        up_op = nn.Conv2d(inChannels, outChannels, 3, 1, 1);
        this.kernel = kernel;
        this.stride = stride;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        long Size(long n) => (n - 1) * stride + kernel - 2 * Padding.Of(kernel, stride);
        var resized = NearestExact.Resize(input, Size(input.size(2)), Size(input.size(3)));
        return up_op.call(resized);
    }
}

/// <summary>Encoder stage (DownBlock with learnable interpolation and no attention): downsample, then a ResBlock.</summary>
public sealed class DownBlock : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly Downsample? down_op;
    private readonly ResBlock conv_block;

    public DownBlock(long inChannels, long outChannels, long kernel, long stride, long downKernel, long normGroups, double dropout, long? embChannels)
        : base(nameof(DownBlock))
    {
        if (stride != 1) down_op = new Downsample(inChannels, outChannels, downKernel, stride);
        conv_block = new ResBlock(stride != 1 ? outChannels : inChannels, outChannels, kernel, 1, normGroups, dropout, embChannels);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor? emb) => conv_block.call(down_op is null ? x : down_op.call(x), emb);
}

/// <summary>Decoder stage (UpBlock with learnable interpolation): upsample, add the skip (additive, same channels), ResBlock.</summary>
public sealed class UpBlock : nn.Module<Tensor, Tensor?, Tensor?, Tensor>
{
    private readonly Upsample? up_op;
    private readonly ResBlock conv_block;

    public UpBlock(long inChannels, long outChannels, long kernel, long stride, long upKernel, long normGroups, double dropout, long? embChannels)
        : base(nameof(UpBlock))
    {
        if (stride != 1) up_op = new Upsample(inChannels, outChannels, upKernel, stride);
        conv_block = new ResBlock(stride != 1 ? outChannels : inChannels, outChannels, kernel, 1, normGroups, dropout, embChannels);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor? skip, Tensor? emb)
    {
        var h = up_op is null ? x : up_op.call(x);
        if (skip is not null) h = h + skip;
        return conv_block.call(h, emb);
    }
}

/// <summary>1x1 output convolution (MONAI's UnetOutBlock, whose conv sits in a Convolution sequence: conv.conv.*).</summary>
public sealed class OutBlock : nn.Module<Tensor, Tensor>
{
    private readonly Sequential conv;

    public OutBlock(long inChannels, long outChannels) : base(nameof(OutBlock))
    {
        conv = nn.Sequential(("conv", nn.Conv2d(inChannels, outChannels, 1)));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => conv.call(input);
}
