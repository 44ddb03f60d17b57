using TorchSharp.PyBridge;
using MedfusionDicom.Diffusion.Networks;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Schedulers;
using TorchSharp;
using MedfusionDicom.Torch;

namespace MedfusionDicom.Diffusion.Models;

/// <summary>Loads a model directory for inference: config.json read as a <see cref="ModelCard"/> and validated, then model.safetensors (EMA weights).</summary>
public static class ModelLoader
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";

    public static ModelCard LoadCard(string dir) => ModelCard.Load(Path.Combine(dir, ConfigFile));

    /// <summary>The VAE of a directory, on <paramref name="device"/> (default: the CPU).</summary>
    public static MedfusionVae LoadVae(string dir, torch.Device? device = null)
    {
        var card = LoadCard(dir);
        if (card.Kind != ModelKind.Vae || card.Vae is null) throw new FormatException($"{dir}: not a VAE model directory");
        var vae = new MedfusionVae(card.Vae);
        vae.load_safetensors(Path.Combine(dir, WeightsFile));
        if (device is not null && device.type != DeviceType.CPU) vae.to(device);
        return vae;
    }

    /// <summary>The UNet (on <paramref name="device"/>, default the CPU) and schedule of a medfusion or cdiff directory.</summary>
    public static (ModelCard card, MedfusionUNet unet, GaussianScheduler scheduler) LoadDiffusion(string dir, torch.Device? device = null)
    {
        var card = LoadCard(dir);
        if (card.Unet is null) throw new FormatException($"{dir}: not a diffusion model directory");
        var unet = new MedfusionUNet(card.Unet);
        unet.load_safetensors(Path.Combine(dir, WeightsFile));
        if (device is not null && device.type != DeviceType.CPU) unet.to(device);
        return (card, unet, new GaussianScheduler(card.Scheduler ?? DefaultSchedule(card.Kind)));
    }

    /// <summary>
    /// The restoration pipeline a cdiff card describes (task and inpainting condition): the one place that maps a
    /// model's card onto <see cref="Pipelines.RestorationPipeline"/>, so every caller builds the input the network was trained on.
    /// </summary>
    public static RestorationPipeline RestorationPipeline(ModelCard card, MedfusionUNet unet, GaussianScheduler scheduler) =>
        new(unet, scheduler, card.Task, card.InpaintFill);

    public static SchedulerConfig DefaultSchedule(ModelKind kind) => kind == ModelKind.Cdiff ? SchedulerConfig.MedCDiff : SchedulerConfig.Medfusion;

    /// <summary>Resolves the VAE directory of a Medfusion card: absolute, or relative to the model directory.</summary>
    public static string ResolveVae(string modelDir, ModelCard card) =>
        Path.IsPathRooted(card.VaeCheckpoint!) ? card.VaeCheckpoint! : Path.GetFullPath(Path.Combine(modelDir, card.VaeCheckpoint!));
}
