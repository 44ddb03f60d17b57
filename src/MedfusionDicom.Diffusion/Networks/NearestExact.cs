using TorchSharp;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Networks;

/// <summary>
/// PyTorch's <c>F.interpolate(x, size, mode="nearest-exact")</c> for [B, C, H, W], as two index selections: output
/// pixel d takes input pixel min(floor((d + 0.5) · in / out), in − 1), in float32, as PyTorch 1.13 did, which the bundled
/// models were trained with. TorchSharp's interpolate (libtorch 2.10) rounds some sizes the other way (4 to 7, 16 to 31:
/// NearestExactTests), and its C++ frontend prints an align_corners warning on every nearest-exact call, thousands of
/// lines a sampling run.
/// </summary>
public static class NearestExact
{
    public static Tensor Resize(Tensor input, long height, long width)
    {
        // An integer upscale (the UNets' 2x) picks the same pixels as plain nearest, floor((d + 0.5) / k) = floor(d / k),
        // and libtorch's nearest kernel is several times faster than two index selections and does not warn.
        if (height % input.size(2) == 0 && width % input.size(3) == 0)
            return nn.functional.interpolate(input, [height, width], mode: InterpolationMode.Nearest);
        using var rows = SourceIndices(input.size(2), height, input.device);
        using var columns = SourceIndices(input.size(3), width, input.device);
        using var resizedRows = input.index_select(2, rows);
        return resizedRows.index_select(3, columns);
    }

    private static Tensor SourceIndices(long inputSize, long outputSize, Device device)
    {
        var scale = (float)inputSize / outputSize;
        var indices = new long[outputSize];
        for (long d = 0; d < outputSize; d++) indices[d] = Math.Min((long)MathF.Floor((d + 0.5f) * scale), inputSize - 1);
        return tensor(indices, ScalarType.Int64, device);
    }
}
