using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Derived;
using MedfusionDicom.Diffusion.Evaluation;
using MedfusionDicom.Diffusion.Models;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Schedulers;
using MedfusionDicom.Diffusion.Training;
using MedfusionDicom.Imaging;
using TorchSharp;
using MedfusionDicom.Torch;

namespace MedfusionDicom.Cli.Commands;

/// <summary>
/// `medfusion sample|denoise|super-resolve|inpaint`: run the bundled (or any trained) models on DICOM files.
/// Outputs are derived instances (same study, new series) written through DerivedImageBuilder, with pixel values in the
/// input's scale; samples are synthetic Secondary Capture images.
/// </summary>
internal static class DiffusionCommands
{
    private const string Version = "1.0";

    public static IEnumerable<Command> Create() => [Sample(), Restore(RestorationTask.Denoise), Restore(RestorationTask.SuperResolve), Restore(RestorationTask.Inpaint), Eval()];

    // ---- shared options ----
    private static Option<string> ModelOption() => new("--model") { Description = "Model directory, or a name under ./models (e.g. cdiff-cxr-denoise)", Required = true };
    private static Option<long> SeedOption() => new("--seed") { Description = "Random seed (same seed, same output)", DefaultValueFactory = _ => 0 };
    private static Option<string> SamplerOption(string dflt) => new("--sampler") { Description = "ddim, ddpm or dpm-solver (DPM-Solver++ 2M)", DefaultValueFactory = _ => dflt };
    private static Option<double?> StrengthOption() => new("--strength")
    {
        Description = "Where sampling starts, as a fraction of the noise schedule: 1 from pure noise (the paper); below 1 from the input noised " +
            "to that level (Come-Closer-Diffuse-Faster). Default: the model's training strength (maxStrength in its config.json; 1 if not set)",
    };
    private static Option<double> EtaOption(double dflt) => new("--eta") { Description = "DDIM stochasticity (0 deterministic, 1 the reference's default)", DefaultValueFactory = _ => dflt };

    /// <summary>A model directory: the argument itself, or ./models/NAME, or models/NAME next to the executable's repository.</summary>
    internal static string ResolveModel(string name)
    {
        if (Directory.Exists(name)) return name;
        var local = Path.Combine("models", name);
        if (Directory.Exists(local)) return local;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var p = Path.Combine(dir.FullName, "models", name);
            if (Directory.Exists(p)) return p;
        }
        throw new ArgumentException($"model '{name}' not found (a directory, or models/{name})");
    }

    internal static SamplerKind ParseSampler(string s) => SamplerNames.Parse(s);

    /// <summary>The pixel cleaner of `deidentify --option clean-pixel-data`: a Med-cDiff inpainting model with its own settings (steps, strength), seed 0.</summary>
    internal static LoadedCleaner InpaintingCleaner(string modelName, IReadOnlyList<IReadOnlyList<int>> boxes, torch.Device device, CancellationToken ct)
    {
        var dir = ResolveModel(modelName);
        var (cfg, unet, scheduler) = ModelLoader.LoadDiffusion(dir, device);
        if (cfg.Kind != ModelKind.Cdiff || cfg.Task != RestorationTask.Inpaint)
        {
            unet.Dispose();
            throw new ArgumentException($"{dir} is not a Med-cDiff inpainting model");
        }

        var g = new torch.Generator(0);
        var model = new RestorationImageModel(ModelLoader.RestorationPipeline(cfg, unet, scheduler), cfg.ImageSpec(), SamplerKind.Ddim,
            Options(cfg.RestorationSteps, 0.0, g, "clean pixel data", ct) with { Strength = cfg.MaxStrength });
        return new LoadedCleaner(new InpaintingPixelCleaner(model, boxes, cancellationToken: ct), unet, g);
    }

    /// <summary>A cleaner and the model weights and generator it holds until the verb is done.</summary>
    internal sealed class LoadedCleaner(InpaintingPixelCleaner cleaner, IDisposable weights, IDisposable generator) : IDisposable
    {
        public InpaintingPixelCleaner Cleaner { get; } = cleaner;

        public void Dispose()
        {
            weights.Dispose();
            generator.Dispose();
        }
    }

    /// <summary>Sampling options with a stderr progress bar and the command's cancellation token.</summary>
    internal static SamplingOptions Options(int steps, double eta, torch.Generator g, string what, CancellationToken ct) =>
        Options(steps, eta, g, () => what, ct);

    /// <summary>
    /// The same, for work that samples several batches (windows, frames): the bar shows the current batch's steps,
    /// <paramref name="what"/> says which batch, and seconds per step are the current batch's.
    /// </summary>
    internal static SamplingOptions Options(int steps, double eta, torch.Generator g, Func<string> what, CancellationToken ct)
    {
        // Timed from each batch's first step: a batch's start is only seen once its first step is done.
        var clock = Stopwatch.StartNew();
        var secondsPerStep = 0.0;
        var progress = new InlineProgress<SamplingProgress>(p =>
        {
            if (p.Step == 1) clock.Restart();
            else secondsPerStep = clock.Elapsed.TotalSeconds / (p.Step - 1);
            ProgressBar.WriteSampling(Console.Error, what(), p.Step, p.TotalSteps, secondsPerStep);
        });
        return new SamplingOptions { Steps = steps, Eta = eta, Generator = g, Progress = progress, CancellationToken = ct };
    }



    /// <summary>"denoise", or where a multi-window or multi-frame run is: "denoise, frames 9-16 of 96, windows 4-7 of 24".</summary>
    private static string Describe(string name, ImagingProgress p, int batch)
    {
        if (p.Frames <= 1 && p.Windows <= 1) return name;
        var frames = p.Frames > 1 ? string.Create(CultureInfo.InvariantCulture, $", frames from {p.FramesDone + 1} of {p.Frames}") : "";
        var windows = p.Windows > 1 ? string.Create(CultureInfo.InvariantCulture, $", windows {p.WindowsDone + 1}-{Math.Min(p.Windows, p.WindowsDone + batch)} of {p.Windows}") : "";
        return name + frames + windows;
    }

    // ---- sample ----
    private static Command Sample()
    {
        var model = ModelOption();
        var label = new Option<string>("--label") { Description = "Class to generate (e.g. NORMAL, PNEUMONIA)", Required = true };
        var count = new Option<int>("--count") { Description = "Number of images", DefaultValueFactory = _ => 1 };
        var steps = new Option<int>("--steps") { Description = "Sampler steps", DefaultValueFactory = _ => 25 };
        var seed = SeedOption();
        var sampler = SamplerOption("dpm-solver");
        var eta = EtaOption(1.0);
        var guidance = new Option<double>("--guidance") { Description = "Classifier-free guidance scale (1 = plain conditional)", DefaultValueFactory = _ => 1.0 };
        var outDir = new Option<string>("--out") { Description = "Output directory for the DICOM files", Required = true };
        var device = DeviceOptions.Create();
        var cmd = new Command("sample", "Generate synthetic images of a class with a Medfusion model") { model, label, count, steps, seed, sampler, eta, guidance, outDir, device };
        CliAction.Set(cmd, async (parse, ct) =>
        {
            var dir = ResolveModel(parse.GetValue(model)!);
            var on = DeviceOptions.Resolve(parse, device);
            var (cfg, unet, scheduler) = ModelLoader.LoadDiffusion(dir, on);
            if (cfg.Kind != ModelKind.Medfusion) throw new ArgumentException($"{dir} is not a Medfusion (sampling) model");
            using var _ = unet;
            using var vae = ModelLoader.LoadVae(ModelLoader.ResolveVae(dir, cfg), on);
            int labelIndex = Array.IndexOf(cfg.Labels, parse.GetValue(label));
            if (labelIndex < 0) throw new ArgumentException($"unknown label '{parse.GetValue(label)}' (the model knows {string.Join(", ", cfg.Labels)})");
            int n = parse.GetValue(count);
            if (n < 1) throw new ArgumentException("--count must be positive");
            var pipe = new LatentDiffusionPipeline(vae, unet, scheduler, cfg.LatentScale);
            using var g = new torch.Generator((ulong)parse.GetValue(seed));
            var builder = new DerivedImageBuilder(new DerivedImageProcessing
            {
                DerivationDescription = $"Synthetic {cfg.Labels[labelIndex]} image generated by Medfusion latent diffusion ({Path.GetFileName(Path.GetFullPath(dir))})",
                AlgorithmName = "Medfusion",
                AlgorithmVersion = Version,
                ModelName = Path.GetFileName(Path.GetFullPath(dir)),
                SeriesDescription = $"Synthetic {cfg.Labels[labelIndex]} (Medfusion)",
                IsSynthetic = true,
            });
            var output = parse.GetValue(outDir)!;
            Directory.CreateDirectory(output);
            int size = cfg.ImageSize;
            for (int i = 0; i < n; i++)
            {
                Image2D image;
                // Dispose scopes are per thread: the tensor work is finished before the first await.
                using (torch.NewDisposeScope())
                {
                    var opts = Options(parse.GetValue(steps), parse.GetValue(eta), g, $"image {i + 1}/{n}", ct);
                    var img = pipe.Sample([labelIndex], size, size, ParseSampler(parse.GetValue(sampler)!), opts, parse.GetValue(guidance));
                    image = new Image2D(size, size, img.contiguous().ToArray<float>());
                }
                var pixels = DicomImageProcessor.Synthetic(image, cfg.IntensityConvention);
                var file = builder.Build(null, pixels, i + 1).ToFile();
                await file.SaveAsync(Path.Combine(output, string.Create(CultureInfo.InvariantCulture, $"sample-{i + 1:D4}.dcm")), cancellationToken: ct);
            }
            Console.Error.WriteLine();
            return CliAction.Ok;
        });
        return cmd;
    }

    // ---- restoration verbs ----
    private static Command Restore(RestorationTask task)
    {
        var (name, about) = task switch
        {
            RestorationTask.Denoise => ("denoise", "Remove Gaussian and salt-and-pepper noise with a Med-cDiff model"),
            RestorationTask.SuperResolve => ("super-resolve", "Upscale an image with a Med-cDiff super-resolution model"),
            _ => ("inpaint", "Fill a masked region with a Med-cDiff inpainting model (known pixels are kept exactly)"),
        };
        var input = new Argument<string>("IN") { Description = "Input DICOM file (single-channel)" };
        var output = new Argument<string>("OUT") { Description = "Output DICOM file (a derived instance of IN in a new series)" };
        var model = ModelOption();
        var steps = new Option<int?>("--steps") { Description = "Sampler steps (default: the model's defaultSteps, else 50)" };
        var seed = SeedOption();
        var sampler = SamplerOption("ddim");
        var eta = EtaOption(0.0);
        var strength = StrengthOption();
        var cmd = new Command(name, about) { input, output, model, steps, seed, sampler, eta, strength };
        var scale = new Option<int>("--scale") { Description = "Upscaling factor (the model's)", DefaultValueFactory = _ => 2 };
        var maskBox = new Option<string?>("--mask-box") { Description = "Region to fill: X,Y,W,H in pixels" };
        var maskFile = new Option<string?>("--mask") { Description = "Mask DICOM file of the input's size: non-zero pixels are filled" };
        if (task == RestorationTask.SuperResolve) cmd.Options.Add(scale);
        if (task == RestorationTask.Inpaint) { cmd.Options.Add(maskBox); cmd.Options.Add(maskFile); }
        var budget = new Option<long>("--memory-budget") { Description = "Working memory of one forward pass in MB; a larger image is tiled", DefaultValueFactory = _ => new TilingOptions().MemoryBudgetMegabytes };
        var overlap = new Option<double>("--tile-overlap") { Description = "Fraction of a tile shared with its neighbour when an image is tiled", DefaultValueFactory = _ => new TilingOptions().Overlap };
        var batch = new Option<int>("--batch-size") { Description = "Tiles or frames per forward pass, at most", DefaultValueFactory = _ => new TilingOptions().MaxBatchSize };
        cmd.Options.Add(budget);
        cmd.Options.Add(overlap);
        cmd.Options.Add(batch);
        var device = DeviceOptions.Create();
        cmd.Options.Add(device);
        CliAction.Set(cmd, async (parse, ct) =>
        {
            var dir = ResolveModel(parse.GetValue(model)!);
            var (cfg, unet, scheduler) = ModelLoader.LoadDiffusion(dir, DeviceOptions.Resolve(parse, device));
            using var _ = unet;
            if (cfg.Kind != ModelKind.Cdiff || cfg.Task != task) throw new ArgumentException($"{dir} is not a Med-cDiff {name} model");
            if (task == RestorationTask.SuperResolve && parse.GetValue(scale) != cfg.Scale) throw new ArgumentException($"the model upscales by {cfg.Scale}, not {parse.GetValue(scale)}");
            var tiling = new TilingOptions { MemoryBudgetMegabytes = parse.GetValue(budget), Overlap = parse.GetValue(overlap), MaxBatchSize = parse.GetValue(batch) };
            tiling.Validate("--memory-budget, --tile-overlap, --batch-size");
            var source = SourceImage.Open((await DicomFile.OpenAsync(parse.GetValue(input)!, cancellationToken: ct)).Dataset);
            bool[]? mask = null;
            if (task == RestorationTask.Inpaint) mask = await Mask(parse.GetValue(maskBox), parse.GetValue(maskFile), source.Width, source.Height, ct);
            using var g = new torch.Generator((ulong)parse.GetValue(seed));
            var where = new ImagingProgress(0, source.FrameCount, 0, 1);
            var restoration = new RestorationImageModel(ModelLoader.RestorationPipeline(cfg, unet, scheduler), cfg.ImageSpec(), ParseSampler(parse.GetValue(sampler)!),
                Options(parse.GetValue(steps) ?? cfg.RestorationSteps, parse.GetValue(eta), g, () => Describe(name, where, tiling.MaxBatchSize), ct)
                    with { Strength = parse.GetValue(strength) ?? cfg.MaxStrength });
            var pixels = new DicomImageProcessor(restoration, tiling).Process(source, mask, new InlineProgress<ImagingProgress>(p => where = p), ct);
            Console.Error.WriteLine();
            var builder = new DerivedImageBuilder(new DerivedImageProcessing
            {
                DerivationDescription = $"{about} ({Path.GetFileName(Path.GetFullPath(dir))}, {parse.GetValue(steps) ?? cfg.RestorationSteps} steps from strength {parse.GetValue(strength) ?? cfg.MaxStrength:0.##}, seed {parse.GetValue(seed)})",
                DerivationCodes = task switch
                {
                    RestorationTask.Denoise => [DicomCodes.Smoothing],
                    RestorationTask.SuperResolve => [DicomCodes.SpatialResampling],
                    _ => [DicomCodes.PixelByPixelMask],
                },
                AlgorithmName = "Med-cDiff",
                AlgorithmVersion = Version,
                ModelName = Path.GetFileName(Path.GetFullPath(dir)),
                SeriesDescription = $"{name} (Med-cDiff)",
            });
            await builder.Build(source.Dataset, pixels, 1).ToFile().SaveAsync(parse.GetValue(output)!, cancellationToken: ct);
            return CliAction.Ok;
        });
        return cmd;
    }

    // ---- eval ----
    private static Command Eval()
    {
        var eval = new Command("eval", "Evaluate a model on the test split against classic baselines (Markdown on stdout)");
        foreach (var task in new[] { RestorationTask.Denoise, RestorationTask.SuperResolve, RestorationTask.Inpaint })
        {
            var model = ModelOption();
            var data = new Option<string>("--data") { Description = "The .npy set (e.g. ../shared/data/cxr-pneumonia/cxr128.npy); its test split is used", Required = true };
            var count = new Option<int>("--count") { Description = "Test images (evenly spread over the split)", DefaultValueFactory = _ => 16 };
            var steps = new Option<int?>("--steps") { Description = "Sampler steps (default: the model's defaultSteps, else 50)" };
            var sampler = SamplerOption("ddim");
            var seed = SeedOption();
            var strength = StrengthOption();
            var name = task switch { RestorationTask.Denoise => "denoise", RestorationTask.SuperResolve => "super-resolve", _ => "inpaint" };
            var device = DeviceOptions.Create();
            var cmd = new Command(name, $"Evaluate a Med-cDiff {name} model") { model, data, count, steps, sampler, seed, strength, device };
            CliAction.Set(cmd, (parse, ct) =>
            {
                var dir = ResolveModel(parse.GetValue(model)!);
                var (cfg, unet, scheduler) = ModelLoader.LoadDiffusion(dir, DeviceOptions.Resolve(parse, device));
                using var _ = unet;
                if (cfg.Kind != ModelKind.Cdiff || cfg.Task != task) throw new ArgumentException($"{dir} is not a Med-cDiff {name} model");
                // The test boxes are the sizes the model was trained on: a training setting, next to the card in config.json.
                var training = ModelStore.LoadConfig(dir);
                using var set = MedfusionDicom.Diffusion.Data.CxrDataset.Open(parse.GetValue(data)!);
                var clock = Stopwatch.StartNew();
                var report = RestorationEvaluation.Run(ModelLoader.RestorationPipeline(cfg, unet, scheduler), set, parse.GetValue(count), parse.GetValue(steps) ?? cfg.RestorationSteps,
                    ParseSampler(parse.GetValue(sampler)!), parse.GetValue(seed), cfg.Scale, training.MinBox, training.MaxBox,
                    (k, n) => ProgressBar.WriteSampling(Console.Error, "images", k, n, clock.Elapsed.TotalSeconds / k), ct, parse.GetValue(strength) ?? cfg.MaxStrength, cfg.IntensityConvention);
                Console.Error.WriteLine();
                Console.Out.Write(report.ToMarkdown());
                return Task.FromResult(CliAction.Ok);
            });
            eval.Subcommands.Add(cmd);
        }
        eval.Subcommands.Add(EvalSynthesis());
        return eval;
    }

    private static Command EvalSynthesis()
    {
        var model = ModelOption();
        var data = new Option<string>("--data") { Description = "The .npy set the model was trained on (train split: classifier and memorization; test split: reference)", Required = true };
        var count = new Option<int>("--count") { Description = "Samples per label", DefaultValueFactory = _ => 16 };
        var steps = new Option<int>("--steps") { Description = "Sampler steps", DefaultValueFactory = _ => 25 };
        var sampler = SamplerOption("dpm-solver");
        var guidance = new Option<double>("--guidance") { Description = "Classifier-free guidance scale", DefaultValueFactory = _ => 1.0 };
        var classifierSteps = new Option<int>("--classifier-steps") { Description = "Training steps of the feature classifier", DefaultValueFactory = _ => 300 };
        var seed = SeedOption();
        var cmd = new Command("synthesis", "Evaluate a Medfusion model: Fréchet distance, precision/recall, per-label accuracy, memorization")
            { model, data, count, steps, sampler, guidance, classifierSteps, seed };
        var device = DeviceOptions.Create();
        cmd.Options.Add(device);
        CliAction.Set(cmd, (parse, ct) =>
        {
            var dir = ResolveModel(parse.GetValue(model)!);
            var on = DeviceOptions.Resolve(parse, device);
            var (cfg, unet, scheduler) = ModelLoader.LoadDiffusion(dir, on);
            using var _ = unet;
            if (cfg.Kind != ModelKind.Medfusion) throw new ArgumentException($"{dir} is not a Medfusion model");
            using var vae = ModelLoader.LoadVae(ModelLoader.ResolveVae(dir, cfg), on);
            var pipe = new LatentDiffusionPipeline(vae, unet, scheduler, cfg.LatentScale);
            var report = SynthesisEvaluation.Run(pipe, parse.GetValue(data)!, cfg.Labels, parse.GetValue(count), parse.GetValue(steps),
                ParseSampler(parse.GetValue(sampler)!), parse.GetValue(guidance), parse.GetValue(seed), parse.GetValue(classifierSteps),
                log: m => Console.Error.Write($"\r{m}                    "), ct: ct, intensity: cfg.IntensityConvention);
            Console.Error.WriteLine();
            Console.Out.Write(report.ToMarkdown());
            return Task.FromResult(CliAction.Ok);
        });
        return cmd;
    }

    private static async Task<bool[]> Mask(string? box, string? file, int width, int height, CancellationToken ct)
    {
        if ((box is null) == (file is null)) throw new ArgumentException("give exactly one of --mask-box X,Y,W,H and --mask FILE");
        if (box is not null)
        {
            var p = box.Split(',').Select(s => int.Parse(s.Trim(), CultureInfo.InvariantCulture)).ToArray();
            if (p.Length != 4) throw new FormatException("--mask-box takes X,Y,W,H");
            return ImageMask.Box(width, height, p[0], p[1], p[2], p[3]);
        }
        var m = SourceImage.Open((await DicomFile.OpenAsync(file!, cancellationToken: ct)).Dataset);
        if (m.Height != height || m.Width != width) throw new ArgumentException($"the mask is {m.Width}x{m.Height}, the image {width}x{height}");
        return m.StoredValues(0).Select(v => v != 0).ToArray();
    }
}
