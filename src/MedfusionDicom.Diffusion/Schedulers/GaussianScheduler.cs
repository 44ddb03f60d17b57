using TorchSharp;
using MedfusionDicom.Torch;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Schedulers;

public enum BetaSchedule { Linear, ScaledLinear, Cosine }

/// <summary>A noise schedule: T, the beta schedule and its end points.</summary>
public sealed record SchedulerConfig
{
    public int Timesteps { get; init; } = 1000;
    public BetaSchedule Schedule { get; init; } = BetaSchedule.ScaledLinear;
    public double BetaStart { get; init; } = 0.002;
    public double BetaEnd { get; init; } = 0.02;

    /// <summary>Medfusion (Müller-Franzes et al.): scaled_linear 0.002..0.02, T = 1000.</summary>
    public static SchedulerConfig Medfusion => new();
    /// <summary>Med-cDiff (Hung et al.): linear 1e-4..0.02, T = 2000.</summary>
    public static SchedulerConfig MedCDiff => new() { Timesteps = 2000, Schedule = BetaSchedule.Linear, BetaStart = 1e-4, BetaEnd = 0.02 };
}

/// <summary>
/// The Gaussian forward process q(x_t | x_0) = N(sqrt(ᾱ_t) x_0, (1 - ᾱ_t) I) with epsilon prediction, t in [0, T-1]
/// (t = 0 is one step of noise, as in the reference). Coefficients are computed in double precision.
/// </summary>
public sealed class GaussianScheduler
{
    public SchedulerConfig Config { get; }
    public int T => Config.Timesteps;
    public double[] Betas { get; }
    public double[] Alphas { get; }
    public double[] AlphasCumprod { get; }

    public GaussianScheduler(SchedulerConfig config)
    {
        Config = config;
        int n = config.Timesteps;
        if (n < 2) throw new ArgumentException("a schedule needs at least 2 timesteps");
        Betas = config.Schedule switch
        {
            BetaSchedule.Linear => Linspace(config.BetaStart, config.BetaEnd, n),
            BetaSchedule.ScaledLinear => Linspace(Math.Sqrt(config.BetaStart), Math.Sqrt(config.BetaEnd), n).Select(b => b * b).ToArray(),
            BetaSchedule.Cosine => CosineBetas(n),
            _ => throw new ArgumentException($"unknown schedule {config.Schedule}"),
        };
        Alphas = Betas.Select(b => 1 - b).ToArray();
        AlphasCumprod = new double[n];
        double acc = 1;
        for (int i = 0; i < n; i++) AlphasCumprod[i] = acc *= Alphas[i];
    }

    private static double[] Linspace(double a, double b, int n) => Enumerable.Range(0, n).Select(i => a + (b - a) * i / (n - 1)).ToArray();

    /// <summary>Nichol and Dhariwal's cosine schedule (s = 0.008), betas clipped at 0.999.</summary>
    private static double[] CosineBetas(int n)
    {
        double F(double x) => Math.Pow(Math.Cos((x / n + 0.008) / 1.008 * Math.PI / 2), 2);
        return Enumerable.Range(0, n).Select(i => Math.Clamp(1 - F(i + 1) / F(i), 0, 0.999)).ToArray();
    }

    /// <summary>ᾱ at each t of a [B] int64 tensor, shaped [B, 1, 1, 1] for broadcasting.</summary>
    public Tensor AlphaBarAt(Tensor t, Device device)
    {
        using var table = tensor(AlphasCumprod, ScalarType.Float32, device);
        return table.index_select(0, t).reshape(t.size(0), 1, 1, 1);
    }

    /// <summary>x_t = sqrt(ᾱ_t)·x_0 + sqrt(1 - ᾱ_t)·ε.</summary>
    public Tensor AddNoise(Tensor x0, Tensor noise, Tensor t)
    {
        var ab = AlphaBarAt(t, x0.device);
        return ab.sqrt() * x0 + (1.0 - ab).sqrt() * noise;
    }

    /// <summary>Uniform random timesteps [B] in [0, T-1].</summary>
    public Tensor SampleTimesteps(long batch, Device device, Generator? generator = null, double maxStrength = 1.0)
    {
        if (!(maxStrength > 0 && maxStrength <= 1)) throw new ArgumentException($"the training strength must be in (0, 1], got {maxStrength}");
        return SeededRandom.randint(0, Math.Max(1, (int)Math.Round(maxStrength * T)), [batch], device, generator);
    }

    /// <summary>The x_0 implied by an epsilon estimate: (x_t - sqrt(1 - ᾱ)·ε) / sqrt(ᾱ).</summary>
    public static Tensor PredictX0(Tensor xt, Tensor eps, double alphaBar) => (xt - eps * Math.Sqrt(1 - alphaBar)) / Math.Sqrt(alphaBar);

    /// <summary>The epsilon implied by an x_0 estimate (used after clipping x_0).</summary>
    public static Tensor PredictEps(Tensor xt, Tensor x0, double alphaBar) => (xt - x0 * Math.Sqrt(alphaBar)) / Math.Sqrt(1 - alphaBar);

    /// <summary>`count` timesteps evenly spread over [0, start] (start: T-1 unless given), descending (the reference's DDIM spacing: linspace then truncation).</summary>
    public int[] SpacedTimesteps(int count, int? start = null)
    {
        int from = start ?? T - 1;
        if (from < 0 || from > T - 1) throw new ArgumentException($"the start timestep must be in [0, {T - 1}], got {from}");
        if (count < 1 || count > from + 1) throw new ArgumentException($"steps must be in [1, {from + 1}], got {count}");
        if (count == 1) return [from];
        return Enumerable.Range(0, count).Select(i => (int)((double)from * i / (count - 1))).Reverse().ToArray();
    }
}
