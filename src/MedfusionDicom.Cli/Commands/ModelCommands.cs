using System.CommandLine;
using System.Runtime.InteropServices;
using MedfusionDicom.Diffusion.Models;
using MedfusionDicom.Diffusion.Training;

namespace MedfusionDicom.Cli.Commands;

/// <summary>`medfusion train vae|medfusion|cdiff`: trains the diffusion models into a model directory.</summary>
internal static class ModelCommands
{
    public static Command CreateTrain()
    {
        var train = new Command("train", "Train a Medfusion VAE, a Medfusion latent UNet or a Med-cDiff UNet");
        foreach (var kind in new[] { ModelKind.Vae, ModelKind.Medfusion, ModelKind.Cdiff }) train.Subcommands.Add(TrainVerb(kind));
        return train;
    }

    private static Command TrainVerb(ModelKind kind)
    {
        var data = new Option<string>("--data")
        {
            Description = "Training images: an .npy set with labels.csv beside it (its train split is used), or a folder of DICOM files with --labels",
            Required = true,
        };
        var labels = new Option<string?>("--labels") { Description = "For a DICOM folder: CSV with header and rows file,label (default FOLDER/labels.csv)" };
        var config = new Option<string>("--config") { Description = "Training config (JSON, see config/models/*.json)", Required = true };
        var outDir = new Option<string>("--out") { Description = "Model directory; a directory with state.json is resumed", Required = true };
        var seed = new Option<long?>("--seed") { Description = "Overrides the config's seed (batches, noise, initialisation)" };
        var maxSteps = new Option<long?>("--max-steps") { Description = "Stop after this many steps in this run (the config's steps is the total)" };
        var name = kind.ToString().ToLowerInvariant();
        var device = DeviceOptions.Create();
        var cmd = new Command(name, $"Train a {name} model") { data, labels, config, outDir, seed, maxSteps, device };
        CliAction.Set(cmd, (parse, ct) =>
        {
            var cfg = TrainConfig.Load(parse.GetValue(config)!);
            if (cfg.Kind != kind) throw new ArgumentException($"the config is for '{cfg.Kind.ToString().ToLowerInvariant()}', not '{name}'");
            if (parse.GetValue(seed) is { } s) cfg = cfg with { Seed = s };
            var dir = parse.GetValue(outDir)!;
            // A resumed run keeps what defines the network and its data (so that it matches its weights) and takes the
            // training hyperparameters (steps, batch, crop, learning rate, ...) from the given config.
            if (ModelStore.LoadState(dir) is not null)
            {
                var stored = ModelStore.LoadConfig(dir);
                cfg = cfg with
                {
                    Vae = stored.Vae, Unet = stored.Unet, Scheduler = stored.Scheduler, Task = stored.Task, Scale = stored.Scale, InpaintFill = stored.InpaintFill,
                    Labels = stored.Labels, LatentScale = stored.LatentScale, VaeCheckpoint = stored.VaeCheckpoint,
                    TrainingData = stored.TrainingData, Content = cfg.Content ?? stored.Content,
                };
            }
            // The card names its training data, so that synthetic cohorts can screen samples against it.
            if (cfg.TrainingData is null && File.Exists(parse.GetValue(data)) && parse.GetValue(data)!.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
                cfg = cfg with { TrainingData = Path.GetRelativePath(Path.GetFullPath(dir), Path.GetFullPath(parse.GetValue(data)!)) };
            using var source = OpenSource(parse.GetValue(data)!, parse.GetValue(labels), cfg);
            var on = DeviceOptions.Resolve(parse, device);
            using var trainer = new Trainer(cfg, source, dir, on);
            Console.Error.WriteLine($"medfusion: training {name} ({trainer.ParameterCount:N0} parameters) on {source.Count} images, from step {trainer.State.Step}, on {MedfusionDicom.Torch.TorchDevices.Describe(on)}");
            // SIGTERM (kill, a stopping service) ends the run after the current step with a checkpoint, like Ctrl+C.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            var final = trainer.Run(Console.Error, stop.Token, parse.GetValue(maxSteps));
            Console.Error.WriteLine($"medfusion: step {final.Step}, loss {final.RecentLoss:F4}, checkpoint in {dir}");
            return Task.FromResult(CliAction.Ok);
        });
        return cmd;
    }

    internal static IImageSource OpenSource(string data, string? labels, TrainConfig cfg)
    {
        if (File.Exists(data) && data.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) return new NpyImageSource(data, cfg.IntensityConvention);
        if (Directory.Exists(data)) return new DicomFolderImageSource(data, labels ?? Path.Combine(data, "labels.csv"), cfg.ImageSize, cfg.IntensityConvention);
        throw new ArgumentException($"{data}: neither an .npy file nor a folder");
    }
}
