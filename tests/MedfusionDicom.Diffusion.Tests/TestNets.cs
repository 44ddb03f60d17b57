using MedfusionDicom.Diffusion.Networks;
using TorchSharp;
using MedfusionDicom.Torch;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Tests;

/// <summary>Small network configs that run in milliseconds, and helpers shared by the tests.</summary>
internal static class TestNets
{
    public static VaeConfig TinyVae => new() { EmbChannels = 4, HidChs = [8, 16, 16], KernelSizes = [3, 3, 3], Strides = [1, 2, 2], NormGroups = 4, DeepSupervision = 1 };

    public static UNetConfig TinyUNet(int inCh, int outCh, int classes, int deep = 0) =>
        new() { InChannels = inCh, OutChannels = outCh, HidChs = [16, 16, 32], KernelSizes = [3, 3, 3], Strides = [1, 2, 2], NormGroups = 8, EmbDim = 32, NumClasses = classes, DeepSupervision = deep };

    /// <summary>Overwrites every parameter with seeded noise so that zero-initialised convolutions take part in a comparison.</summary>
    public static void Randomize(nn.Module m, long seed)
    {
        using var g = new Generator((ulong)seed);
        using (no_grad())
            foreach (var p in m.parameters()) p.normal_(0, 0.2, g);
    }

    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MedfusionDicom.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found");
    }

    public static double MaxAbsDiff(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return (a - b).abs().max().item<float>();
    }
}
