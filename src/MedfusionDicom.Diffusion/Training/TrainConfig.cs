using System.Text.Json;
using MedfusionDicom.Diffusion.Networks;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Schedulers;

namespace MedfusionDicom.Diffusion.Training;

public enum ModelKind { Vae, Medfusion, Cdiff }

/// <summary>Everything a training run (and later inference) needs; stored as config.json beside the weights.</summary>
public sealed record TrainConfig
{
    public ModelKind Kind { get; init; }
    public VaeConfig? Vae { get; init; }
    public UNetConfig? Unet { get; init; }
    public SchedulerConfig? Scheduler { get; init; }
    /// <summary>Med-cDiff task and super-resolution factor.</summary>
    public RestorationTask Task { get; init; } = RestorationTask.Denoise;
    public int Scale { get; init; } = 2;
    /// <summary>Side length DICOM training images are resized to (the .npy sets come at a fixed size).</summary>
    public int ImageSize { get; init; } = 128;
    /// <summary>Training images are random square crops of this size (0 = whole images); the nets are fully convolutional,
    /// so a net trained on crops runs on whole images (4x cheaper steps on CPU for 64 of 128).</summary>
    public int CropSize { get; init; }
    /// <summary>Inpainting boxes: side lengths drawn from [MinBox, MaxBox] pixels.</summary>
    public int MinBox { get; init; } = 8;
    public int MaxBox { get; init; } = 24;
    /// <summary>Inpainting: what the condition holds in the unknown region (see <see cref="Pipelines.InpaintFill"/>).</summary>
    public InpaintFill InpaintFill { get; init; } = InpaintFill.Zero;
    /// <summary>Inpainting: the loss counts the unknown pixels only. The known ones are replaced after every sampling
    /// step, so what the network predicts there never reaches an output; counting them only dilutes the gradient.</summary>
    public bool LossInMaskOnly { get; init; }
    public int BatchSize { get; init; } = 8;
    public double LearningRate { get; init; } = 1e-4;
    public long Steps { get; init; } = 100_000;
    public double EmaDecay { get; init; } = 0.999;
    public int CheckpointEverySeconds { get; init; } = 300;
    public long Seed { get; init; } = 1;
    /// <summary>Probability of dropping the class label (classifier-free guidance training; reference 0.5).</summary>
    public double CfgDropout { get; init; } = 0.5;
    /// <summary>Latents are divided by this before diffusion (Medfusion); 0 = measure the latents' standard deviation
    /// when training starts and store it.</summary>
    public double LatentScale { get; init; } = 1.0;
    /// <summary>Directory of the trained VAE (Medfusion), relative to the config's output directory's parent or absolute.</summary>
    public string? VaeCheckpoint { get; init; }
    /// <summary>VAE loss: L1 + SsimWeight·(1 - SSIM) + KlWeight·KL.</summary>
    public double SsimWeight { get; init; } = 1.0;
    public double KlWeight { get; init; }
    public int Threads { get; init; } = 1;
    /// <summary>
    /// Training timesteps are drawn from [0, MaxStrength·T) (1: all of them, the papers' training). A restoration model
    /// that is only ever sampled from its input noised to strength s (SamplingOptions.Strength) needs no more than
    /// t ≤ s·T; concentrating training there is truncated diffusion (Zheng et al. 2022) and fine-tunes it faster.
    /// </summary>
    public double MaxStrength { get; init; } = 1.0;
    /// <summary>Sampler steps the restoration verbs, their evaluation and the worker use unless told otherwise (0: 50).</summary>
    public int DefaultSteps { get; init; }
    /// <summary><see cref="DefaultSteps"/>, or 50 when the model does not say.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int RestorationSteps => DefaultSteps > 0 ? DefaultSteps : 50;
    /// <summary>Class names in label order (filled from the data when empty).</summary>
    public string[] Labels { get; init; } = [];

    public static TrainConfig Load(string path) =>
        JsonSerializer.Deserialize<TrainConfig>(File.ReadAllText(path), ConfigJson.Options) ?? throw new FormatException($"{path}: empty config");

    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, ConfigJson.Options) + "\n");

    public void Validate()
    {
        switch (Kind)
        {
            case ModelKind.Vae when Vae is null: throw new FormatException("a vae config needs \"vae\"");
            case ModelKind.Medfusion when Unet is null || VaeCheckpoint is null: throw new FormatException("a medfusion config needs \"unet\" and \"vaeCheckpoint\"");
            case ModelKind.Cdiff when Unet is null: throw new FormatException("a cdiff config needs \"unet\"");
        }
        if (Kind == ModelKind.Cdiff && Unet!.InChannels != RestorationPipeline.InputChannels(Task))
            throw new FormatException($"cdiff {Task}: unet.inChannels must be {RestorationPipeline.InputChannels(Task)}");
        if (BatchSize < 1 || LearningRate <= 0 || Steps < 1) throw new FormatException("batchSize, learningRate and steps must be positive");
    }
}
