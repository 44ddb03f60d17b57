using System.Diagnostics;
using System.Text.Json;
using MedfusionDicom.Diffusion.Networks;
using MedfusionDicom.Torch;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Tests;

public class NearestExactTests
{
    /// <summary>
    /// The source pixel of every output pixel, against python3-torch 1.13's nearest-exact, which the bundled models were
    /// trained with (libtorch 2.10's rounds some of these sizes the other way: 4 to 7 and 16 to 31 among them).
    /// </summary>
    [Theory]
    [InlineData(16, 32)]  // the bundled UNets' upsampling: 2x
    [InlineData(7, 21)]
    [InlineData(4, 7)]    // a UNet with upsampling kernel 3: n to 2n - 1
    [InlineData(5, 9)]
    [InlineData(16, 31)]
    [InlineData(64, 127)]
    [InlineData(32, 8)]   // training's deep-supervision targets: down
    [InlineData(7, 3)]
    [InlineData(9, 27)]
    public void Source_pixels_are_pytorch_1_13s(int input, int output)
    {
        using var scope = NewDisposeScope();
        var ramp = arange(input, ScalarType.Float32).view(1, 1, input, 1);
        var ours = NearestExact.Resize(ramp, output, 1).ToArray<float>().Select(v => (long)v).ToArray();
        var code = $"import torch, json; x = torch.arange({input}).float().view(1, 1, {input}, 1); " +
                   $"print(json.dumps(torch.nn.functional.interpolate(x, size=({output}, 1), mode='nearest-exact').flatten().long().tolist()))";
        var psi = new ProcessStartInfo("/usr/bin/python3", ["-c", code]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, stderr);
        Assert.Equal(JsonSerializer.Deserialize<long[]>(stdout), ours);
    }
}
