using TorchSharp;
using MedfusionDicom.Torch;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Schedulers;

/// <summary>Where a sampler's Gaussian noise comes from, one draw after another in the order the sampler asks.</summary>
public interface INoiseSource
{
    /// <summary>Standard normal noise of <paramref name="like"/>'s shape, type and device.</summary>
    Tensor Draw(Tensor like);
}

/// <summary>
/// Noise that is a function of the pixel's place in its whole image, not of the window being sampled: the n-th draw at
/// output pixel (x, y), channel c, of an image with seed s is the same in every window that covers that pixel. Tiles of
/// one image sampled apart then start from, and are perturbed by, the same noise where they overlap, so they agree there
/// as far as the network's context allows. Each value is a Box–Muller normal from a SplitMix64 hash of (s, n, c, y, x),
/// so no field is stored and the cost is a hash per value.
/// </summary>
public sealed class PositionalNoise : INoiseSource
{
    private readonly IReadOnlyList<(long Seed, int X, int Y)> _origins;
    private long _draws;

    /// <param name="origins">Per batch element: its image's seed and the window's top-left corner in that image.</param>
    public PositionalNoise(IReadOnlyList<(long Seed, int X, int Y)> origins) => _origins = origins;

    public Tensor Draw(Tensor like)
    {
        if (like.dim() != 4 || like.size(0) != _origins.Count)
            throw new ArgumentException($"positional noise is drawn for [{_origins.Count}, C, H, W] tensors, not [{string.Join(", ", like.shape)}]");
        int channels = (int)like.size(1), height = (int)like.size(2), width = (int)like.size(3);
        var draw = _draws++;
        var values = new float[_origins.Count * channels * height * width];
        Parallel.For(0, _origins.Count * channels, plane =>
        {
            var (seed, x0, y0) = _origins[plane / channels];
            var stream = Mix((ulong)seed ^ Mix((ulong)draw * (ulong)channels + (ulong)(plane % channels)));
            var offset = plane * height * width;
            for (var y = 0; y < height; y++)
            {
                var row = Mix(stream ^ (ulong)(uint)(y0 + y));
                for (var x = 0; x < width; x++) values[offset + y * width + x] = Normal(Mix(row ^ ((ulong)(uint)(x0 + x) << 32)));
            }
        });
        return tensor(values, like.shape).to(like.dtype).to(like.device);
    }

    /// <summary>SplitMix64's finaliser: every input bit reaches every output bit.</summary>
    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A standard normal from the hash's two 32-bit halves (Box–Muller; the first half mapped into (0, 1]).</summary>
    private static float Normal(ulong bits)
    {
        var u1 = ((bits >> 32) + 1.0) / 4294967296.0;
        var u2 = (bits & 0xFFFFFFFFUL) / 4294967296.0;
        return (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }
}
