using TorchSharp.PyBridge;
using System.Text.Json;
using MedfusionDicom.Diffusion.Models;
using MedfusionDicom.Diffusion.Networks;
using TorchSharp;
using MedfusionDicom.Torch;
using MedfusionDicom.Torch.Serialization;
using static TorchSharp.torch;

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
/// A training run's model directory: config.json (the TrainConfig), model.safetensors (EMA weights, what
/// <see cref="ModelLoader"/> loads for inference), train-state.safetensors (the raw weights a resumed run continues
/// from) and state.json.
/// </summary>
public static class ModelStore
{
    public const string ConfigFile = ModelLoader.ConfigFile;
    public const string WeightsFile = ModelLoader.WeightsFile;
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
        Atomic(WeightsFile, p => Safetensors.SaveStateDict(p, ema));
        Atomic(RawWeightsFile, p => Safetensors.SaveStateDict(p, raw));
        Atomic(ConfigFile, config.Save);
        Atomic(StateFile, p => File.WriteAllText(p, JsonSerializer.Serialize(state, ConfigJson.Options) + "\n"));
    }
}
