using MedfusionDicom.Diffusion.Networks;
using MedfusionDicom.Diffusion.Schedulers;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Tests;

/// <summary>
/// A long sampling run through TorchSharp frees every step's tensors: RSS stays flat. The first ~15,000 forward passes
/// of a process raise RSS by about 100 MB and then stop (the .NET and malloc heaps settling: measured 87, 9, 3 and 0 MB
/// over consecutive runs of 4,000), so a first run of 10,000 steps warms up and the second one is measured.
/// </summary>
[Collection(AloneCollection.Name)]
public class SamplingLeakTests(ITestOutputHelper log)
{
    private static long RssBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        throw new InvalidOperationException("no VmRSS");
    }

    private sealed class RssAt(int[] steps, Dictionary<int, long> seen) : IProgress<SamplingProgress>
    {
        public void Report(SamplingProgress value)
        {
            if (!steps.Contains(value.Step)) return;
            GC.Collect();
            GC.WaitForPendingFinalizers();
            seen[value.Step] = RssBytes();
        }
    }

    [Fact]
    public void Ten_thousand_ddim_steps_with_noise_keep_rss_flat()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var unet = new MedfusionUNet(TestNets.TinyUNet(1, 1, 0));
        var scheduler = new GaussianScheduler(new SchedulerConfig { Timesteps = 10_000 });
        NoisePredictor model = (x, t) =>
        {
            using var tt = full([x.size(0)], t, ScalarType.Float32);
            return unet.call(x, tt, null);
        };
        var rss = new Dictionary<int, long>();
        using var generator = new Generator(1);
        using (var warmUp = randn([1, 1, 8, 8], generator: generator))
            Sampler.Sample(SamplerKind.Ddim, scheduler, model, warmUp, new SamplingOptions { Steps = 10_000, Eta = 1, ClipX0 = true, Generator = generator }).Dispose();
        // Eta 1: every step also draws noise, as ancestral sampling does.
        // x̂0 clipped to [-1, 1] as for pixel-space models, so that an untrained network's 10,000 steps stay finite.
        var options = new SamplingOptions { Steps = 10_000, Eta = 1, ClipX0 = true, Generator = generator, Progress = new RssAt([1_000, 10_000], rss) };
        using var xT = randn([1, 1, 8, 8], generator: generator);
        using (var result = Sampler.Sample(SamplerKind.Ddim, scheduler, model, xT, options))
            Assert.True(result.isfinite().all().item<bool>(), "the samples are not finite");
        var growth = rss[10_000] - rss[1_000];
        log.WriteLine($"RSS after 1,000 steps {rss[1_000] >> 20} MiB, growth over the next 9,000: {growth >> 10} KiB");
        Assert.True(growth < 16L << 20, $"RSS grew by {growth >> 20} MiB over 9,000 sampling steps");
    }
}

/// <summary>Tests that measure the process (RSS): xunit runs this collection after the others, with nothing beside it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AloneCollection
{
    public const string Name = "measures the whole process";
}
