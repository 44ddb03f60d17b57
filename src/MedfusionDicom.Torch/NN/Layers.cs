using TorchSharp;
using TorchSharp.Modules;

namespace MedfusionDicom.Torch.NN;

/// <summary>TorchSharp layers made as PyTorch makes them, where TorchSharp 0.107 does not.</summary>
public static class Layers
{
    /// <summary>
    /// <c>nn.GroupNorm</c> with PyTorch's initial affine parameters (weight 1, bias 0). TorchSharp 0.107's GroupNorm
    /// leaves them uninitialised: freshly made ones held leftover memory, NaN among it (LayerTests shows the case).
    /// </summary>
    public static GroupNorm GroupNorm(long groups, long channels, double eps = 1e-05, bool affine = true)
    {
        var norm = torch.nn.GroupNorm(groups, channels, eps, affine);
        using var guard = torch.no_grad();
        norm.weight?.fill_(1);
        norm.bias?.zero_();
        return norm;
    }
}
