using MedfusionDicom.Torch.Native;
using static MedfusionDicom.Torch.torch;

namespace MedfusionDicom.Torch.Modules;

/// <summary>A module parameter: a leaf tensor (requires_grad by default) on the same data as the tensor it was
/// made from. Parameters belong to their module, not to a dispose scope.</summary>
public class Parameter : Tensor
{
    public Parameter(Tensor data, bool requires_grad = true) : base(DetachedAlias(data), registerInScope: false)
    {
        this.requires_grad = requires_grad;
    }

    private static IntPtr DetachedAlias(Tensor data)
    {
        using var d = Call.Run(Op.Detach, [data]);
        return d.NewAlias();
    }
}
