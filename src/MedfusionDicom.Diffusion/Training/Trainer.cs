using TorchSharp.PyBridge;
using System.Diagnostics;
using System.Globalization;
using MedfusionDicom.Diffusion.Evaluation;
using MedfusionDicom.Diffusion.Models;
using MedfusionDicom.Diffusion.Networks;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Schedulers;
using MedfusionDicom.Imaging;
using TorchSharp;
using MedfusionDicom.Torch;
using MedfusionDicom.Torch.Optim;
using TorchSharp.Modules;
using F = TorchSharp.torch.nn.functional;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Training;

/// <summary>
/// Trains a VAE, a Medfusion latent UNet or a Med-cDiff UNet from an image source, checkpointing into a model directory
/// (see <see cref="ModelStore"/>) every CheckpointEverySeconds and at the end; a directory with state.json is resumed.
/// The optimizer's moments are not stored: a resumed run restarts them.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly TrainConfig cfg;
    private readonly IImageSource data;
    private readonly string outDir;
    private readonly nn.Module model;
    private readonly MedfusionVae? frozenVae;
    private readonly GaussianScheduler? scheduler;
    private readonly optim.Optimizer optimizer;
    private readonly ExponentialMovingAverage ema;
    private readonly Device device;
    private TrainState state = new();

    /// <param name="device">Where the model trains (default: the CPU); batches are made on the CPU and moved there.</param>
    public Trainer(TrainConfig config, IImageSource data, string outDir, Device? device = null)
    {
        config.Validate();
        this.device = device ?? CPU;
        this.data = data;
        this.outDir = outDir;
        cfg = config.Labels.Length == 0 ? config with { Labels = [.. data.Labels] } : config;
        set_num_threads(cfg.Threads);
        manual_seed(cfg.Seed);
        switch (cfg.Kind)
        {
            case ModelKind.Vae:
                model = new MedfusionVae(cfg.Vae!);
                break;
            case ModelKind.Medfusion:
                model = new MedfusionUNet(cfg.Unet!);
                frozenVae = ModelLoader.LoadVae(ModelLoader.ResolveVae(outDir, cfg), this.device);
                frozenVae.eval();
                foreach (var p in frozenVae.parameters()) p.requires_grad = false;
                scheduler = new GaussianScheduler(cfg.Scheduler ?? SchedulerConfig.Medfusion);
                if (cfg.LatentScale <= 0) cfg = cfg with { LatentScale = LatentStd() };
                break;
            default:
                model = new MedfusionUNet(cfg.Unet!);
                scheduler = new GaussianScheduler(cfg.Scheduler ?? SchedulerConfig.MedCDiff);
                break;
        }
        if (this.device.type != DeviceType.CPU) model.to(this.device);
        var resumed = ModelStore.LoadState(outDir);
        if (resumed is not null)
        {
            // EMA first: it is initialised from the module, which then gets the raw weights.
            model.load_safetensors(Path.Combine(outDir, ModelStore.WeightsFile));
            ema = new ExponentialMovingAverage(model, cfg.EmaDecay);
            model.load_safetensors(Path.Combine(outDir, ModelStore.RawWeightsFile));
            state = resumed;
        }
        else
        {
            ema = new ExponentialMovingAverage(model, cfg.EmaDecay);
        }
        // Adam for the autoencoder, AdamW for the diffusion UNets, as the Medfusion paper.
        optimizer = cfg.Kind == ModelKind.Vae ? optim.Adam(model.parameters(), cfg.LearningRate) : optim.AdamW(model.parameters(), cfg.LearningRate, weight_decay: 0);
    }

    /// <summary>
    /// The standard deviation of the VAE's latents over a few training batches: dividing by it gives the diffusion
    /// unit-variance data, which the noise schedule assumes (Stable Diffusion's scale factor; the reference uses 1).
    /// </summary>
    private double LatentStd()
    {
        using var scope = NewDisposeScope();
        using var g = new Generator((ulong)cfg.Seed);
        var rng = new Random(unchecked((int)cfg.Seed));
        using (no_grad())
        {
            var zs = Enumerable.Range(0, 4).Select(_ => frozenVae!.Encode(Batch(rng).images, sample: true, g)).ToList();
            return cat(zs).std().item<float>();
        }
    }

    public TrainState State => state;
    public nn.Module Model => model;
    public long ParameterCount => model.parameters().Sum(p => p.numel());

    /// <summary>Trains until cfg.Steps (or maxSteps more steps), checkpointing on the way; returns the final state.</summary>
    public TrainState Run(TextWriter? progress, CancellationToken ct, long? maxSteps = null)
    {
        long target = Math.Min(cfg.Steps, maxSteps.HasValue ? state.Step + maxSteps.Value : long.MaxValue);
        var clock = Stopwatch.StartNew();
        var lastSave = clock.Elapsed;
        double baseElapsed = state.ElapsedSeconds, recent = state.RecentLoss;
        long images = state.ImagesSeen;
        model.train();
        while (state.Step < target && !ct.IsCancellationRequested)
        {
            double loss = Step(state.Step);
            recent = state.Step == 0 || recent == 0 ? loss : 0.98 * recent + 0.02 * loss;
            images += cfg.BatchSize;
            state = state with { Step = state.Step + 1, ImagesSeen = images, RecentLoss = recent, ElapsedSeconds = baseElapsed + clock.Elapsed.TotalSeconds };
            if (progress is not null) ProgressBar.Write(progress, state.Step, cfg.Steps, recent, cfg.BatchSize * state.Step / Math.Max(state.ElapsedSeconds, 1e-9));
            if ((clock.Elapsed - lastSave).TotalSeconds >= cfg.CheckpointEverySeconds)
            {
                Save();
                lastSave = clock.Elapsed;
            }
        }
        state = state with { Finished = state.Step >= cfg.Steps };
        Save();
        progress?.WriteLine();
        return state;
    }

    private void Save() => ModelStore.Save(outDir, cfg, ema.state_dict(), model.state_dict(), state);

    /// <summary>One optimisation step on a fresh batch; the batch depends only on the seed and the step number.</summary>
    private double Step(long step)
    {
        using var scope = NewDisposeScope();
        var rng = new Random(unchecked((int)(cfg.Seed * 1_000_003 + step)));
        using var gen = new Generator((ulong)(cfg.Seed * 7919 + step));
        var loss = cfg.Kind switch
        {
            ModelKind.Vae => VaeLoss(rng, gen),
            ModelKind.Medfusion => MedfusionLoss(rng, gen),
            _ => CdiffLoss(rng, gen),
        };
        optimizer.zero_grad();
        loss.backward();
        nn.utils.clip_grad_norm_(model.parameters(), 1.0);
        optimizer.step();
        // Warm-up (as diffusers' EMA): decay min(d, (1 + step)/(10 + step)), else a short run's average is mostly the init.
        ema.Update(model, Math.Min(cfg.EmaDecay, (1.0 + step) / (10.0 + step)));
        return loss.item<float>();
    }

    /// <summary>A batch of (cropped) images [B, 1, S, S] and their labels.</summary>
    private (Tensor images, Tensor labels, List<Image2D> list) Batch(Random rng)
    {
        int n = data.Size, s = cfg.CropSize > 0 ? cfg.CropSize : n;
        var buf = new float[cfg.BatchSize * s * s];
        var labels = new long[cfg.BatchSize];
        var list = new List<Image2D>();
        for (int b = 0; b < cfg.BatchSize; b++)
        {
            int i = rng.Next(data.Count);
            var img = data.Read(i);
            labels[b] = data.Label(i);
            // Even offsets keep crops aligned with the 2x2 blocks of super-resolution's downsampling.
            int ox = s < n ? rng.Next((n - s) / 2 + 1) * 2 : 0, oy = s < n ? rng.Next((n - s) / 2 + 1) * 2 : 0;
            var crop = new Image2D(s, s);
            for (int y = 0; y < s; y++) Array.Copy(img, (oy + y) * n + ox, crop.Data, y * s, s);
            crop.Data.CopyTo(buf, b * s * s);
            list.Add(crop);
        }
        return (tensor(buf, new long[] { cfg.BatchSize, 1, s, s }).to(device), tensor(labels).to(device), list);
    }

    private Tensor VaeLoss(Random rng, Generator gen)
    {
        var vae = (MedfusionVae)model;
        var (x, _, _) = Batch(rng);
        var out_ = vae.Forward(x, gen);
        Tensor Rec(Tensor pred, Tensor target) => F.l1_loss(pred, target) + (1.0 - Losses.Ssim(pred, target)).mean() * cfg.SsimWeight;
        var loss = Rec(out_.Reconstruction, x);
        foreach (var d in out_.Deep)
            loss = loss + Rec(d, NearestExact.Resize(x, d.size(2), d.size(3)));
        return cfg.KlWeight > 0 ? loss + out_.Kl * cfg.KlWeight : loss;
    }

    private Tensor MedfusionLoss(Random rng, Generator gen)
    {
        var unet = (MedfusionUNet)model;
        var (x, labels, _) = Batch(rng);
        Tensor z;
        using (no_grad()) z = frozenVae!.Encode(x, sample: true, gen) / cfg.LatentScale;
        var keep = (rand([cfg.BatchSize], generator: gen) >= cfg.CfgDropout).to(ScalarType.Float32).to(device);
        return DiffusionLoss(z, gen, (xt, t) => unet.Forward(xt, t, labels, keep), l1: true);
    }

    private Tensor CdiffLoss(Random rng, Generator gen)
    {
        var unet = (MedfusionUNet)model;
        var (x, _, list) = Batch(rng);
        var (condition, mask) = Degrade(cfg, list, rng);
        (condition, mask) = (condition.to(device), mask?.to(device));
        return DiffusionLoss(x, gen, (xt, t) => unet.Forward(RestorationPipeline.NetworkInput(xt, condition, mask), t, null, null), l1: false,
            weight: cfg.LossInMaskOnly ? mask : null);
    }

    /// <summary>
    /// Epsilon-prediction loss at uniform t: L1 (Medfusion) or L2 (Med-cDiff), deep heads against pooled noise; with a
    /// weight map [B, 1, H, W] the mean is over the weighted pixels only (pooled alike for the deep heads).
    /// </summary>
    private Tensor DiffusionLoss(Tensor x0, Generator gen, Func<Tensor, Tensor, (Tensor output, List<Tensor> deep)> net, bool l1, Tensor? weight = null)
    {
        var t = scheduler!.SampleTimesteps(x0.size(0), x0.device, gen, cfg.MaxStrength);
        var noise = SeededRandom.randn(x0.shape, x0.dtype, x0.device, gen);
        var (pred, deep) = net(scheduler.AddNoise(x0, noise, t), t.to(ScalarType.Float32));
        Tensor Crit(Tensor a, Tensor b)
        {
            if (weight is null) return l1 ? F.l1_loss(a, b) : F.mse_loss(a, b);
            var err = l1 ? (a - b).abs() : (a - b).square();
            var wt = a.size(2) == weight.size(2) ? weight : F.adaptive_avg_pool2d(weight, [a.size(2), a.size(3)]);
            return (err * wt).sum() / (wt.sum() * a.size(1) + 1e-8);
        }
        // The reference weighs the heads 1, 1/2, 1/4, ... normalised to sum 1.
        var w = Enumerable.Range(0, deep.Count + 1).Select(i => Math.Pow(0.5, i)).ToArray();
        var total = w.Sum();
        var loss = Crit(pred, noise) * (w[0] / total);
        for (int i = 0; i < deep.Count; i++)
            loss = loss + Crit(deep[i], F.adaptive_avg_pool2d(noise, [deep[i].size(2), deep[i].size(3)])) * (w[i + 1] / total);
        return loss;
    }

    /// <summary>The condition (and mask) of a restoration task for clean images, with the degradations of evaluation.</summary>
    public static (Tensor condition, Tensor? mask) Degrade(TrainConfig cfg, IReadOnlyList<Image2D> clean, Random rng)
    {
        int s = clean[0].Width;
        switch (cfg.Task)
        {
            case RestorationTask.Denoise:
                return (Stack(clean.Select(c => Degradations.AddNoise(c, rng).Data)), null);
            case RestorationTask.SuperResolve:
                var low = Stack(clean.Select(c => Degradations.Downsample(c, cfg.Scale).Data), s / cfg.Scale);
                return (RestorationPipeline.UpsampleCondition(low, cfg.Scale), null);
            default:
                var masks = clean.Select(_ =>
                {
                    int w = rng.Next(cfg.MinBox, cfg.MaxBox + 1), h = rng.Next(cfg.MinBox, cfg.MaxBox + 1);
                    return ImageMask.Box(s, s, rng.Next(s - w + 1), rng.Next(s - h + 1), w, h);
                }).ToList();
                return RestorationPipeline.InpaintCondition(clean, masks, cfg.InpaintFill);
        }
    }

    private static Tensor Stack(IEnumerable<float[]> images, int? size = null)
    {
        var list = images.ToList();
        int n = list[0].Length, side = size ?? (int)Math.Round(Math.Sqrt(n));
        var buf = new float[list.Count * n];
        for (int i = 0; i < list.Count; i++) list[i].CopyTo(buf, i * n);
        return tensor(buf, new long[] { list.Count, 1, side, side });
    }

    public void Dispose()
    {
        optimizer.Dispose();
        ema.Dispose();
        model.Dispose();
        frozenVae?.Dispose();
    }
}

/// <summary>A one-line progress bar for stderr: [####----] step/total, loss, images/s.</summary>
public static class ProgressBar
{
    public static void Write(TextWriter w, long step, long total, double loss, double imagesPerSecond) =>
        Line(w, step, total, string.Create(CultureInfo.InvariantCulture, $"loss {loss:F4} {imagesPerSecond:F1} img/s"));

    /// <summary>Sampling progress: step/total and seconds per step.</summary>
    public static void WriteSampling(TextWriter w, string what, long step, long total, double secondsPerStep) =>
        Line(w, step, total, string.Create(CultureInfo.InvariantCulture, $"{what} {secondsPerStep:F2} s/step"));

    /// <summary>Images made of all, and images/s.</summary>
    public static void WriteImages(TextWriter w, long done, long total, double imagesPerSecond, string tail = "") =>
        Line(w, done, total, string.Create(CultureInfo.InvariantCulture, $"images {imagesPerSecond:F2} img/s{tail}"));

    private static void Line(TextWriter w, long step, long total, string tail)
    {
        const int width = 24;
        int filled = (int)(width * Math.Min(1.0, (double)step / Math.Max(total, 1)));
        w.Write($"\r[{new string('#', filled)}{new string('-', width - filled)}] {step}/{total} {tail}   ");
        w.Flush();
    }
}
