using MedfusionDicom.Torch.NN;
using static TorchSharp.torch;

namespace MedfusionDicom.Torch.Tests;

public sealed class LayerTests
{
    [Fact]
    public void Group_norm_starts_as_pytorch_does_with_weight_one_and_bias_zero()
    {
        for (var i = 0; i < 5; i++)
        {
            // Leave freed memory full of huge values, where TorchSharp's own GroupNorm takes its parameters from.
            using (var junk = full([1000, 1000], 1e30f)) { }
            using var norm = Layers.GroupNorm(2, 8);
            Assert.All(norm.weight!.ToArray<float>(), w => Assert.Equal(1f, w));
            Assert.All(norm.bias!.ToArray<float>(), b => Assert.Equal(0f, b));
        }
    }
}
