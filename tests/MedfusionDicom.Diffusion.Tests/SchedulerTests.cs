using MedfusionDicom.Diffusion.Schedulers;
using TorchSharp;
using MedfusionDicom.Torch;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Tests;

public class SchedulerTests
{
    [Fact]
    public void Medfusion_scaled_linear_schedule_matches_its_closed_form()
    {
        var s = new GaussianScheduler(SchedulerConfig.Medfusion);
        Assert.Equal(1000, s.T);
        Assert.Equal(0.002, s.Betas[0], 12);
        Assert.Equal(0.02, s.Betas[^1], 12);
        double a = Math.Sqrt(0.002), b = Math.Sqrt(0.02);
        double mid = a + (b - a) * 500 / 999;
        Assert.Equal(mid * mid, s.Betas[500], 12);
        double prod = 1;
        for (int i = 0; i <= 700; i++) prod *= 1 - s.Betas[i];
        Assert.Equal(prod, s.AlphasCumprod[700], 12);
    }

    [Fact]
    public void MedCDiff_linear_schedule_matches_its_closed_form()
    {
        var s = new GaussianScheduler(SchedulerConfig.MedCDiff);
        Assert.Equal(2000, s.T);
        Assert.Equal(1e-4 + (0.02 - 1e-4) * 1234 / 1999, s.Betas[1234], 12);
        // ᾱ_T is tiny, so x_T is (nearly) pure noise: log ᾱ_T = Σ log(1 - β_t).
        double log = Enumerable.Range(0, 2000).Sum(i => Math.Log(1 - (1e-4 + (0.02 - 1e-4) * i / 1999)));
        Assert.Equal(Math.Exp(log), s.AlphasCumprod[^1], 10);
        Assert.True(s.AlphasCumprod[^1] < 1e-8);
    }

    [Fact]
    public void Add_noise_is_the_forward_marginal()
    {
        using var scope = NewDisposeScope();
        var s = new GaussianScheduler(SchedulerConfig.MedCDiff);
        var x0 = randn([3, 1, 4, 4]);
        var eps = randn([3, 1, 4, 4]);
        var t = tensor(new long[] { 0, 999, 1999 });
        var xt = s.AddNoise(x0, eps, t);
        for (int b = 0; b < 3; b++)
        {
            int ti = new[] { 0, 999, 1999 }[b];
            var expect = x0[b] * Math.Sqrt(s.AlphasCumprod[ti]) + eps[b] * Math.Sqrt(1 - s.AlphasCumprod[ti]);
            Assert.InRange(TestNets.MaxAbsDiff(xt[b], expect), 0, 1e-5);
        }
    }

    [Fact]
    public void Spaced_timesteps_descend_from_T_minus_1_to_0()
    {
        var s = new GaussianScheduler(SchedulerConfig.Medfusion);
        Assert.Equal(new[] { 999, 666, 333, 0 }, s.SpacedTimesteps(4));
        Assert.Equal(Enumerable.Range(0, 1000).Reverse(), s.SpacedTimesteps(1000));
        Assert.Throws<ArgumentException>(() => s.SpacedTimesteps(1001));
    }

    [Fact]
    public void A_warm_start_spaces_the_steps_below_its_start_timestep()
    {
        var s = new GaussianScheduler(SchedulerConfig.Medfusion);
        Assert.Equal(new[] { 300, 200, 100, 0 }, s.SpacedTimesteps(4, start: 300));
        Assert.Throws<ArgumentException>(() => s.SpacedTimesteps(302, start: 300));
        Assert.Throws<ArgumentException>(() => s.SpacedTimesteps(4, start: 1000));
        Assert.Equal(300, new SamplingOptions { Strength = 0.3 }.StartTimestep(s.T)); // round(0.3 · 999)
        Assert.Throws<ArgumentException>(() => new SamplingOptions { Strength = 0 }.StartTimestep(s.T));
        Assert.Throws<ArgumentException>(() => new SamplingOptions { Strength = 1.5 }.StartTimestep(s.T));
    }

    [Theory]
    [InlineData(SamplerKind.Ddim)]
    [InlineData(SamplerKind.Ddpm)]
    [InlineData(SamplerKind.DpmSolver)]
    public void Every_sampler_starts_at_the_strength_and_still_recovers_x0(SamplerKind kind)
    {
        using var scope = NewDisposeScope();
        var s = new GaussianScheduler(SchedulerConfig.Medfusion);
        var x0 = rand([2, 1, 8, 8]) * 2 - 1;
        var seen = new List<int>();
        using var g = new Generator(3);
        var start = s.AddNoise(x0, randn([2, 1, 8, 8], generator: g), full([2], 200L, ScalarType.Int64));
        var options = new SamplingOptions { Steps = 5, Strength = 0.2, Generator = g, Progress = new Collect(seen) };
        var result = Sampler.Sample(kind, s, Oracle(s, x0), start, options);
        Assert.Equal(new[] { 200, 150, 100, 50, 0 }, seen); // round(0.2 · 999) = 200
        Assert.InRange(TestNets.MaxAbsDiff(result, x0), 0, 1e-3);
    }

    [Fact]
    public void Training_timesteps_stay_below_the_training_strength()
    {
        using var scope = NewDisposeScope();
        var s = new GaussianScheduler(SchedulerConfig.MedCDiff);
        using var g = new Generator(1);
        var t = s.SampleTimesteps(4096, CPU, g, maxStrength: 0.25);
        Assert.InRange(t.max().item<long>(), 400, 499); // [0, 0.25 · 2000)
        Assert.Equal(0, t.min().item<long>());
        Assert.Throws<ArgumentException>(() => s.SampleTimesteps(1, CPU, g, maxStrength: 0));
    }

    private sealed class Collect(List<int> timesteps) : IProgress<SamplingProgress>
    {
        public void Report(SamplingProgress value) => timesteps.Add(value.Timestep);
    }

    /// <summary>An estimator that knows x_0: ε̂(x_t) = (x_t - sqrt(ᾱ)·x_0)/sqrt(1 - ᾱ).</summary>
    private static NoisePredictor Oracle(GaussianScheduler s, Tensor x0) => (x, t) =>
        (x - x0 * Math.Sqrt(s.AlphasCumprod[t])) / Math.Sqrt(1 - s.AlphasCumprod[t]);

    [Theory]
    [InlineData(SamplerKind.Ddim, 10)]
    [InlineData(SamplerKind.Ddpm, 10)]
    [InlineData(SamplerKind.DpmSolver, 5)]
    public void Every_sampler_recovers_x0_from_an_exact_noise_estimate(SamplerKind kind, int steps)
    {
        using var scope = NewDisposeScope();
        var s = new GaussianScheduler(SchedulerConfig.Medfusion);
        var x0 = rand([2, 1, 8, 8]) * 2 - 1;
        using var g = new Generator(5);
        var result = Sampler.Sample(kind, s, Oracle(s, x0), randn([2, 1, 8, 8], generator: g), new SamplingOptions { Steps = steps, Generator = g });
        Assert.InRange(TestNets.MaxAbsDiff(result, x0), 0, 1e-3);
    }

    [Fact]
    public void Deterministic_ddim_step_is_the_closed_form()
    {
        using var scope = NewDisposeScope();
        var s = new GaussianScheduler(SchedulerConfig.Medfusion);
        var xT = randn([1, 1, 4, 4]);
        var eps = randn([1, 1, 4, 4]);
        Tensor? afterFirst = null;
        NoisePredictor constant = (x, t) => eps.alias();
        var opts = new SamplingOptions
        {
            Steps = 3, Eta = 0,
            AfterStep = (x, t) => { if (t == 499) afterFirst = x.clone().DetachFromDisposeScope(); return x; },
        };
        Sampler.Ddim(s, constant, xT, opts);
        // From t = 999 to t' = 499 with η = 0: x' = sqrt(ᾱ')·(x - sqrt(1-ᾱ)ε)/sqrt(ᾱ) + sqrt(1 - ᾱ')·ε.
        double a = s.AlphasCumprod[999], an = s.AlphasCumprod[499];
        var expect = (xT - eps * Math.Sqrt(1 - a)) / Math.Sqrt(a) * Math.Sqrt(an) + eps * Math.Sqrt(1 - an);
        Assert.NotNull(afterFirst);
        Assert.InRange(TestNets.MaxAbsDiff(afterFirst!, expect), 0, 1e-4);
        afterFirst!.Dispose();
    }

    [Fact]
    public void Stochastic_samplers_are_deterministic_given_a_seed()
    {
        using var scope = NewDisposeScope();
        var s = new GaussianScheduler(SchedulerConfig.MedCDiff);
        NoisePredictor model = (x, t) => x * 0.1;
        Tensor Run(ulong seed)
        {
            using var g = new Generator(seed);
            return Sampler.Ddpm(s, model, randn([1, 1, 8, 8], generator: g), new SamplingOptions { Steps = 20, Generator = g });
        }
        Assert.Equal(0, TestNets.MaxAbsDiff(Run(1), Run(1)));
        Assert.True(TestNets.MaxAbsDiff(Run(1), Run(2)) > 1e-2);
    }

    [Fact]
    public void Cancellation_stops_within_one_step_and_progress_counts_steps()
    {
        using var scope = NewDisposeScope();
        var s = new GaussianScheduler(SchedulerConfig.Medfusion);
        using var cts = new CancellationTokenSource();
        int calls = 0;
        var reports = new List<SamplingProgress>();
        NoisePredictor model = (x, t) => { calls++; return x * 0.0; };
        var progress = new SyncProgress(p => { reports.Add(p); if (p.Step == 2) cts.Cancel(); });
        var opts = new SamplingOptions { Steps = 50, Progress = progress, CancellationToken = cts.Token };
        Assert.Throws<OperationCanceledException>(() => Sampler.DpmSolverPP2M(s, model, randn([1, 1, 4, 4]), opts));
        Assert.Equal(2, calls);
        Assert.Equal(new[] { 1, 2 }, reports.Select(r => r.Step));
        Assert.All(reports, r => Assert.Equal(50, r.TotalSteps));
    }

    /// <summary>IProgress that reports synchronously (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SyncProgress(Action<SamplingProgress> onReport) : IProgress<SamplingProgress>
    {
        public void Report(SamplingProgress value) => onReport(value);
    }
}
