using System.Text.Json;
using System.Text.Json.Serialization;

namespace MedfusionDicom.Diffusion.Networks;

/// <summary>Medfusion's VAE (latent_embedders.VAE). Defaults are the reference's.</summary>
public sealed record VaeConfig
{
    public int InChannels { get; init; } = 1;
    public int OutChannels { get; init; } = 1;
    /// <summary>Latent channels (4 or 8 in the paper); the encoder head emits twice as many (mean and log-variance).</summary>
    public int EmbChannels { get; init; } = 8;
    public int[] HidChs { get; init; } = [64, 128, 256, 512];
    public int[] KernelSizes { get; init; } = [3, 3, 3, 3];
    public int[] Strides { get; init; } = [1, 2, 2, 2];
    public int NormGroups { get; init; } = 8;
    /// <summary>Output heads on the deeper decoder stages: 0 none, n the first n, -1 all but the last (reference: bool).</summary>
    public int DeepSupervision { get; init; } = 1;

    public int Downsampling => Strides.Aggregate(1, (a, s) => a * s);
}

/// <summary>Medfusion's noise estimator (estimators/unet.UNet, res blocks, learnable interpolation, no attention).</summary>
public sealed record UNetConfig
{
    public int InChannels { get; init; } = 8;
    public int OutChannels { get; init; } = 8;
    public int[] HidChs { get; init; } = [256, 256, 512, 1024];
    public int[] KernelSizes { get; init; } = [3, 3, 3, 3];
    public int[] Strides { get; init; } = [1, 2, 2, 2];
    public int NormGroups { get; init; } = 32;
    /// <summary>Width of the time (and class) embedding; the sinusoidal part is a quarter of it.</summary>
    public int EmbDim { get; init; } = 1024;
    /// <summary>Classes of the label embedder; 0 = no class conditioning (Med-cDiff).</summary>
    public int NumClasses { get; init; }
    public int DeepSupervision { get; init; }
    public double Dropout { get; init; }
}

/// <summary>JSON (de)serialisation of configs, camelCase, shared by checkpoints and config/models/*.json.</summary>
public static class ConfigJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };
}
