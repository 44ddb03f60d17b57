using System.Text.Json;
using MedfusionDicom.Diffusion.Models;
using MedfusionDicom.Diffusion.Networks;

namespace MedfusionDicom.Diffusion.Training;

/// <summary>
/// A training run's settings on top of the model card it produces; both live in one config.json beside the weights
/// (inference reads only the card's part, see <see cref="ModelCard"/>).
/// </summary>
public sealed record TrainConfig : ModelCard
{
    /// <summary>Training images are random square crops of this size (0 = whole images); the nets are fully convolutional,
    /// so a net trained on crops runs on whole images (4x cheaper steps on CPU for 64 of 128).</summary>
    public int CropSize { get; init; }
    /// <summary>Inpainting boxes: side lengths drawn from [MinBox, MaxBox] pixels.</summary>
    public int MinBox { get; init; } = 8;
    public int MaxBox { get; init; } = 24;
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
    /// <summary>VAE loss: L1 + SsimWeight·(1 - SSIM) + KlWeight·KL.</summary>
    public double SsimWeight { get; init; } = 1.0;
    public double KlWeight { get; init; }
    public int Threads { get; init; } = 1;

    public static new TrainConfig Load(string path) =>
        JsonSerializer.Deserialize<TrainConfig>(File.ReadAllText(path), ConfigJson.Options) ?? throw new FormatException($"{path}: empty config");

    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, ConfigJson.Options) + "\n");

    public void Validate()
    {
        ValidateSettings("config");
        if (BatchSize < 1 || LearningRate <= 0 || Steps < 1) throw new FormatException("batchSize, learningRate and steps must be positive");
    }
}
