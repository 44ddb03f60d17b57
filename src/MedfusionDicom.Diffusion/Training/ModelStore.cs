using System.Text.Json;
using MedfusionDicom.Diffusion.Networks;
using MedfusionDicom.Diffusion.Schedulers;
using MedfusionDicom.Torch;
using MedfusionDicom.Torch.Serialization;
using static MedfusionDicom.Torch.torch;

namespace MedfusionDicom.Diffusion.Training;

/// <summary>Progress of a training run, stored as state.json beside the weights.</summary>
public sealed record TrainState
{
    public long Step { get; init; }
    public double ElapsedSeconds { get; init; }
    public long ImagesSeen { get; init; }
    public double RecentLoss { get; init; }
    public bool Finished { get; init; }
}

/// <summary>
/// A model directory: config.json (the TrainConfig), model.safetensors (EMA weights, used for inference),
/// train-state.safetensors (the raw weights a resumed run continues from) and state.json.
/// </summary>
public static class ModelStore
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";
    public const string RawWeightsFile = "train-state.safetensors";
    public const string StateFile = "state.json";

    public static TrainConfig LoadConfig(string dir) => TrainConfig.Load(Path.Combine(dir, ConfigFile));

    public static TrainState? LoadState(string dir)
    {
        var p = Path.Combine(dir, StateFile);
        return File.Exists(p) ? JsonSerializer.Deserialize<TrainState>(File.ReadAllText(p), ConfigJson.Options) : null;
    }

    /// <summary>Writes every file to a temporary name first, then renames, so a killed run never leaves half a checkpoint.</summary>
    public static void Save(string dir, TrainConfig config, Dictionary<string, Tensor> ema, Dictionary<string, Tensor> raw, TrainState state)
    {
        Directory.CreateDirectory(dir);
        void Atomic(string name, Action<string> write)
        {
            var tmp = Path.Combine(dir, name + ".tmp");
            write(tmp);
            File.Move(tmp, Path.Combine(dir, name), overwrite: true);
        }
        var meta = new Dictionary<string, string> { ["kind"] = config.Kind.ToString(), ["step"] = state.Step.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        Atomic(WeightsFile, p => Safetensors.Save(p, ema, meta));
        Atomic(RawWeightsFile, p => Safetensors.Save(p, raw, meta));
        Atomic(ConfigFile, config.Save);
        Atomic(StateFile, p => File.WriteAllText(p, JsonSerializer.Serialize(state, ConfigJson.Options) + "\n"));
    }

    public static MedfusionVae LoadVae(string dir)
    {
        var cfg = LoadConfig(dir);
        if (cfg.Kind != ModelKind.Vae || cfg.Vae is null) throw new FormatException($"{dir}: not a VAE model directory");
        var vae = new MedfusionVae(cfg.Vae);
        vae.load_safetensors(Path.Combine(dir, WeightsFile));
        return vae;
    }

    /// <summary>The UNet and schedule of a medfusion or cdiff directory.</summary>
    public static (TrainConfig config, MedfusionUNet unet, GaussianScheduler scheduler) LoadDiffusion(string dir)
    {
        var cfg = LoadConfig(dir);
        if (cfg.Unet is null) throw new FormatException($"{dir}: not a diffusion model directory");
        var unet = new MedfusionUNet(cfg.Unet);
        unet.load_safetensors(Path.Combine(dir, WeightsFile));
        return (cfg, unet, new GaussianScheduler(cfg.Scheduler ?? DefaultSchedule(cfg.Kind)));
    }

    /// <summary>
    /// The restoration pipeline a cdiff config describes (task and inpainting condition): the one place that maps a
    /// model directory's config onto <see cref="Pipelines.RestorationPipeline"/>, so every caller builds the input the
    /// network was trained on.
    /// </summary>
    public static Pipelines.RestorationPipeline RestorationPipeline(TrainConfig cfg, MedfusionUNet unet, GaussianScheduler scheduler) =>
        new(unet, scheduler, cfg.Task, cfg.InpaintFill);

    public static SchedulerConfig DefaultSchedule(ModelKind kind) => kind == ModelKind.Cdiff ? SchedulerConfig.MedCDiff : SchedulerConfig.Medfusion;

    /// <summary>Resolves the VAE directory of a Medfusion config: absolute, or relative to the model directory.</summary>
    public static string ResolveVae(string modelDir, TrainConfig cfg) =>
        Path.IsPathRooted(cfg.VaeCheckpoint!) ? cfg.VaeCheckpoint! : Path.GetFullPath(Path.Combine(modelDir, cfg.VaeCheckpoint!));
}
