using TorchSharp;
using MedfusionDicom.Torch;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Schedulers;

/// <summary>An epsilon estimator: noise estimate for x_t at integer timestep t (the same t for the whole batch).</summary>
public delegate Tensor NoisePredictor(Tensor xt, int t);

public enum SamplerKind { Ddim, Ddpm, DpmSolver }

/// <summary>The samplers' names on the command line and in the gRPC API.</summary>
public static class SamplerNames
{
    public static IReadOnlyList<string> All { get; } = ["ddim", "ddpm", "dpm-solver"];

    public static SamplerKind Parse(string name) => name switch
    {
        "ddim" => SamplerKind.Ddim,
        "ddpm" => SamplerKind.Ddpm,
        "dpm-solver" or "dpm-solver++" or "dpm++" => SamplerKind.DpmSolver,
        _ => throw new ArgumentException($"unknown sampler '{name}' (ddim, ddpm, dpm-solver or dpm++)"),
    };
}

/// <summary>What a sampler reports after each network evaluation.</summary>
public readonly record struct SamplingProgress(int Step, int TotalSteps, int Timestep);

public sealed record SamplingOptions
{
    public int Steps { get; init; } = 50;
    /// <summary>DDIM stochasticity: 0 deterministic, 1 the reference's default (posterior variance).</summary>
    public double Eta { get; init; } = 1.0;
    /// <summary>Ancestral DDPM variance: true σ_t² = β_t (Med-cDiff), false the posterior variance β̃_t.</summary>
    public bool DdpmBetaVariance { get; init; } = true;
    /// <summary>Clamp the x_0 estimate to [-1, 1] (pixel-space models; not latents).</summary>
    public bool ClipX0 { get; init; }
    public Generator? Generator { get; init; }
    /// <summary>Where the noise comes from when set (e.g. <see cref="PositionalNoise"/> for tiles); else randn from <see cref="Generator"/>.</summary>
    public INoiseSource? Noise { get; init; }
    public IProgress<SamplingProgress>? Progress { get; init; }
    public CancellationToken CancellationToken { get; init; }
    /// <summary>
    /// Where the reverse process starts, as a fraction of the schedule (diffusers' img2img "strength"): 1 starts at
    /// t = T - 1 from pure noise; s &lt; 1 starts at t = s·(T - 1) from an initial estimate noised to that level, which
    /// the caller passes as xT (<see cref="StartTimestep"/>). Restoration from a degraded image this way is
    /// Come-Closer-Diffuse-Faster (Chung et al., CVPR 2022): the steps are spent where the estimate is still wrong.
    /// </summary>
    public double Strength { get; init; } = 1.0;

    /// <summary>Standard normal noise shaped like <paramref name="like"/>, from <see cref="Noise"/> or the generator.</summary>
    public Tensor DrawNoise(Tensor like) => Noise?.Draw(like) ?? SeededRandom.randn(like.shape, like.dtype, like.device, Generator);

    /// <summary>The first timestep of the reverse process for a schedule of <paramref name="timesteps"/>.</summary>
    public int StartTimestep(int timesteps)
    {
        if (!(Strength > 0 && Strength <= 1)) throw new ArgumentException($"strength must be in (0, 1], got {Strength}");
        return (int)Math.Round(Strength * (timesteps - 1));
    }

    /// <summary>Applied to x after every step with the timestep it is now at (-1 = clean): e.g. inpainting's replacement of known pixels.</summary>
    public Func<Tensor, int, Tensor>? AfterStep { get; init; }
}

/// <summary>
/// Reverse-process samplers over a <see cref="GaussianScheduler"/>. Each network evaluation is one step: the
/// cancellation token is checked before it and progress reported after it, so a caller can stop within one step.
/// Every step runs in its own dispose scope; only x survives.
/// </summary>
public static class Sampler
{
    public static Tensor Sample(SamplerKind kind, GaussianScheduler scheduler, NoisePredictor model, Tensor xT, SamplingOptions options) => kind switch
    {
        SamplerKind.Ddim => Ddim(scheduler, model, xT, options),
        SamplerKind.Ddpm => Ddpm(scheduler, model, xT, options),
        SamplerKind.DpmSolver => DpmSolverPP2M(scheduler, model, xT, options),
        _ => throw new ArgumentException($"unknown sampler {kind}"),
    };

    /// <summary>Runs the steps: body(i, x) returns the next x inside a scope; x is kept and the previous one freed.</summary>
    private static Tensor Loop(int[] ts, Tensor xT, SamplingOptions o, Func<int, Tensor, Tensor> body)
    {
        using var outer = NewDisposeScope();
        var x = xT.alias();
        using (no_grad())
        {
            for (int i = 0; i < ts.Length; i++)
            {
                o.CancellationToken.ThrowIfCancellationRequested();
                using (var scope = NewDisposeScope())
                {
                    var next = body(i, x);
                    if (o.AfterStep is not null) next = o.AfterStep(next, i + 1 < ts.Length ? ts[i + 1] : -1);
                    next.MoveToOuterDisposeScope();
                    x.Dispose();
                    x = next;
                }
                o.Progress?.Report(new SamplingProgress(i + 1, ts.Length, ts[i]));
            }
        }
        return x.MoveToOuterDisposeScope();
    }

    private static (Tensor eps, Tensor x0) Estimate(GaussianScheduler s, NoisePredictor model, Tensor x, int t, bool clip)
    {
        var eps = model(x, t);
        double ab = s.AlphasCumprod[t];
        var x0 = GaussianScheduler.PredictX0(x, eps, ab);
        if (!clip) return (eps, x0);
        x0 = x0.clamp(-1.0, 1.0);
        return (GaussianScheduler.PredictEps(x, x0, ab), x0);
    }

    /// <summary>
    /// DDIM (Song et al.) as the reference implements it: x_prev = sqrt(ᾱ')·x̂_0 + sqrt(1 - ᾱ' - σ²)·ε̂ + σ·z with
    /// σ = η·sqrt((1 - ᾱ/ᾱ')(1 - ᾱ')/(1 - ᾱ)); the last step returns x̂_0.
    /// </summary>
    public static Tensor Ddim(GaussianScheduler s, NoisePredictor model, Tensor xT, SamplingOptions o)
    {
        var ts = s.SpacedTimesteps(o.Steps, o.StartTimestep(s.T));
        return Loop(ts, xT, o, (i, x) =>
        {
            int t = ts[i];
            var (eps, x0) = Estimate(s, model, x, t, o.ClipX0);
            if (i == ts.Length - 1) return x0;
            double a = s.AlphasCumprod[t], an = s.AlphasCumprod[ts[i + 1]];
            double sigma = o.Eta * Math.Sqrt((1 - a / an) * (1 - an) / (1 - a));
            var next = x0 * Math.Sqrt(an) + eps * Math.Sqrt(Math.Max(1 - an - sigma * sigma, 0));
            return sigma > 0 ? next + o.DrawNoise(x) * sigma : next;
        });
    }

    /// <summary>
    /// Ancestral DDPM (Ho et al.) on the (possibly respaced) timesteps: posterior mean from x̂_0 and x_t with the
    /// effective β = 1 - ᾱ_t/ᾱ_prev, plus noise of variance β (Med-cDiff's σ² = β) or β̃; Steps = T is the paper's sampler.
    /// </summary>
    public static Tensor Ddpm(GaussianScheduler s, NoisePredictor model, Tensor xT, SamplingOptions o)
    {
        var ts = s.SpacedTimesteps(o.Steps, o.StartTimestep(s.T));
        return Loop(ts, xT, o, (i, x) =>
        {
            int t = ts[i];
            var (_, x0) = Estimate(s, model, x, t, o.ClipX0);
            if (i == ts.Length - 1) return x0;
            double a = s.AlphasCumprod[t], ap = s.AlphasCumprod[ts[i + 1]];
            double beta = 1 - a / ap;
            double c1 = Math.Sqrt(ap) * beta / (1 - a), c2 = Math.Sqrt(1 - beta) * (1 - ap) / (1 - a);
            double variance = o.DdpmBetaVariance ? beta : beta * (1 - ap) / (1 - a);
            return x0 * c1 + x * c2 + o.DrawNoise(x) * Math.Sqrt(variance);
        });
    }

    /// <summary>
    /// DPM-Solver++(2M) (Lu et al. 2022), data prediction, multistep second order in λ = log(α/σ):
    /// x' = (σ'/σ)·x - α'(e^{-h} - 1)·D, D = (1 + 1/2r)·x̂_0 - (1/2r)·x̂_0,prev with r = h_prev/h
    /// (first order on the first step).
    /// The last evaluation (t = 0) returns x̂_0.
    /// </summary>
    public static Tensor DpmSolverPP2M(GaussianScheduler s, NoisePredictor model, Tensor xT, SamplingOptions o)
    {
        var ts = s.SpacedTimesteps(o.Steps, o.StartTimestep(s.T));
        double Lambda(int t) => 0.5 * Math.Log(s.AlphasCumprod[t] / (1 - s.AlphasCumprod[t]));
        Tensor? prevX0 = null;
        double prevH = 0;
        try
        {
            return Loop(ts, xT, o, (i, x) =>
            {
                int t = ts[i];
                var (_, x0) = Estimate(s, model, x, t, o.ClipX0);
                if (i == ts.Length - 1) return x0;
                int tn = ts[i + 1];
                double h = Lambda(tn) - Lambda(t);
                double sig = Math.Sqrt(1 - s.AlphasCumprod[t]), sigN = Math.Sqrt(1 - s.AlphasCumprod[tn]), alN = Math.Sqrt(s.AlphasCumprod[tn]);
                var d = prevX0 is null ? x0 : x0 * (1 + 0.5 * h / prevH) - prevX0 * (0.5 * h / prevH);
                var next = x * (sigN / sig) - d * (alN * (Math.Exp(-h) - 1));
                prevX0?.Dispose();
                prevX0 = x0.DetachFromDisposeScope();
                prevH = h;
                return next;
            });
        }
        finally { prevX0?.Dispose(); }
    }
}
