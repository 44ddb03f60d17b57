using MedfusionDicom.Diffusion.Schedulers;
using TorchSharp;
using MedfusionDicom.Torch;

namespace MedfusionDicom.Imaging.Tests;

public class PositionalNoiseTests
{
    [Fact]
    public void Windows_that_overlap_draw_the_same_noise_where_they_overlap_and_other_noise_elsewhere()
    {
        // Window A at (0, 0) and B at (96, 32) of one image (seed 5), then a window of another image (seed 6) at B's place.
        var noise = new PositionalNoise([(5L, 0, 0), (5L, 96, 32), (6L, 96, 32)]);
        using var like = torch.zeros([3, 2, 128, 128]);
        for (var draw = 0; draw < 2; draw++)
        {
            using var t = noise.Draw(like);
            var v = t.ToArray<float>();
            float At(int b, int c, int y, int x) => v[((b * 2 + c) * 128 + y) * 128 + x];
            for (var c = 0; c < 2; c++)
            for (var y = 32; y < 128; y++)
            for (var x = 96; x < 128; x++)
                Assert.Equal(At(0, c, y, x), At(1, c, y - 32, x - 96));
            Assert.NotEqual(At(0, 0, 40, 100), At(2, 0, 8, 4));
            Assert.NotEqual(At(0, 0, 40, 100), At(0, 1, 40, 100));
        }
    }

    [Fact]
    public void Draws_are_standard_normal_uncorrelated_between_neighbours_and_between_draws()
    {
        var noise = new PositionalNoise([(11L, 300, 700)]);
        using var like = torch.zeros([1, 1, 256, 256]);
        using var first = noise.Draw(like);
        using var second = noise.Draw(like);
        var a = first.ToArray<float>();
        var b = second.ToArray<float>();
        double mean = a.Average(), variance = a.Select(x => (x - mean) * (x - mean)).Average();
        Assert.InRange(mean, -0.02, 0.02);
        Assert.InRange(variance, 0.97, 1.03);
        double Correlation(Func<int, double> other, int count) => Enumerable.Range(0, count).Average(i => a[i] * other(i)) / variance;
        Assert.InRange(Correlation(i => a[i + 1], a.Length - 1), -0.02, 0.02);
        Assert.InRange(Correlation(i => a[i + 256], a.Length - 256), -0.02, 0.02);
        Assert.InRange(Correlation(i => b[i], a.Length), -0.02, 0.02);
        // A tail as heavy as a normal's: |z| > 3 about 0.27 % of the time.
        Assert.InRange(a.Count(x => Math.Abs(x) > 3) / (double)a.Length, 0.0015, 0.004);
    }
}
