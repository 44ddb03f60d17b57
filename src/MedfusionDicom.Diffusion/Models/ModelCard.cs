using System.Text.Json;
using System.Text.Json.Serialization;
using MedfusionDicom.Diffusion.Networks;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Schedulers;
using MedfusionDicom.Imaging;

namespace MedfusionDicom.Diffusion.Models;

public enum ModelKind { Vae, Medfusion, Cdiff }

/// <summary>
/// What inference needs to know of a trained model, read from its config.json (whose training settings it ignores):
/// the networks, the schedule, the task, the image size and intensity convention it was trained with, and its sampling
/// defaults. <see cref="ModelLoader"/> validates it before any weight is loaded.
/// </summary>
public record ModelCard
{
    public ModelKind Kind { get; init; }
    public VaeConfig? Vae { get; init; }
    public UNetConfig? Unet { get; init; }
    public SchedulerConfig? Scheduler { get; init; }
    /// <summary>Med-cDiff task and super-resolution factor.</summary>
    public RestorationTask Task { get; init; } = RestorationTask.Denoise;
    public int Scale { get; init; } = 2;
    /// <summary>Side length of the training images: the window an image larger than the memory budget is tiled in.</summary>
    public int ImageSize { get; init; } = 128;
    /// <summary>Inpainting: what the condition holds in the unknown region (see <see cref="Pipelines.InpaintFill"/>).</summary>
    public InpaintFill InpaintFill { get; init; } = InpaintFill.Zero;
    /// <summary>
    /// How images map to [-1, 1]. Absent: the range of the image's encoding for Med-cDiff (the bundled models were trained
    /// on 8-bit images as /127.5 - 1), 0..255 for Medfusion (its samples are written in that range). Training data go
    /// through the same convention.
    /// </summary>
    public IntensityNormalization? Intensity { get; init; }
    /// <summary>Latents are divided by this before diffusion (Medfusion); 0 = measure the latents' standard deviation
    /// when training starts and store it.</summary>
    public double LatentScale { get; init; } = 1.0;
    /// <summary>Directory of the trained VAE (Medfusion), relative to the model directory or absolute.</summary>
    public string? VaeCheckpoint { get; init; }
    /// <summary>
    /// Training timesteps were drawn from [0, MaxStrength·T); restoration starts from the input noised to this strength
    /// unless told otherwise (1: from pure noise, the papers' sampling).
    /// </summary>
    public double MaxStrength { get; init; } = 1.0;
    /// <summary>Sampler steps the restoration verbs, their evaluation and the worker use unless told otherwise (0: 50).</summary>
    public int DefaultSteps { get; init; }
    /// <summary>Class names in label order (filled from the data when empty).</summary>
    public string[] Labels { get; init; } = [];

    /// <summary>
    /// The images the model was trained on: a .npy set with labels.csv beside it, whose train split the model saw and
    /// whose test split it did not. A relative path is from the model directory. Null: not recorded. Synthetic cohorts
    /// screen their samples against it for memorized copies and score them against its test split.
    /// </summary>
    public string? TrainingData { get; init; }

    /// <summary>What the generated images show, for the headers of synthetic images; null: unknown (Secondary Capture, no anatomy).</summary>
    public GeneratedImageContent? Content { get; init; }

    /// <summary><see cref="TrainingData"/> as a full path from <paramref name="modelDirectory"/>, or null when the card names none.</summary>
    public string? TrainingDataPath(string modelDirectory) =>
        TrainingData is null ? null : Path.GetFullPath(Path.Combine(modelDirectory, TrainingData));

    /// <summary><see cref="DefaultSteps"/>, or 50 when the model does not say.</summary>
    [JsonIgnore]
    public int RestorationSteps => DefaultSteps > 0 ? DefaultSteps : 50;

    [JsonIgnore]
    public IntensityNormalization IntensityConvention => Intensity ?? (Kind == ModelKind.Medfusion ? IntensityNormalization.Range(0, 255) : IntensityNormalization.OfStoredRange);

    public static ModelCard Load(string path)
    {
        var card = JsonSerializer.Deserialize<ModelCard>(File.ReadAllText(path), ConfigJson.Options) ?? throw new FormatException($"{path}: empty config");
        card.ValidateCard(path);
        return card;
    }

    /// <summary>Rejects a card that cannot describe a working model, naming the key.</summary>
    public void ValidateCard(string where)
    {
        ValidateSettings(where);
        if (Kind == ModelKind.Medfusion && Labels.Length == 0) throw new FormatException($"{where}: a medfusion model needs \"labels\"");
    }

    /// <summary>The card's checks that hold before training too (a training run fills the labels from its data).</summary>
    protected void ValidateSettings(string where)
    {
        switch (Kind)
        {
            case ModelKind.Vae when Vae is null: throw new FormatException($"{where}: a vae config needs \"vae\"");
            case ModelKind.Medfusion when Unet is null || VaeCheckpoint is null: throw new FormatException($"{where}: a medfusion config needs \"unet\" and \"vaeCheckpoint\"");
            case ModelKind.Cdiff when Unet is null: throw new FormatException($"{where}: a cdiff config needs \"unet\"");
        }
        if (Kind == ModelKind.Cdiff && Unet!.InChannels != RestorationPipeline.InputChannels(Task))
            throw new FormatException($"{where}: cdiff {Task}: unet.inChannels must be {RestorationPipeline.InputChannels(Task)}");
        if (ImageSize < 1) throw new FormatException($"{where}: imageSize must be positive, not {ImageSize}");
        if (Kind == ModelKind.Cdiff && Task == RestorationTask.SuperResolve && (Scale < 2 || ImageSize % Scale != 0))
            throw new FormatException($"{where}: scale {Scale} must be at least 2 and divide imageSize {ImageSize}");
        if (!(MaxStrength > 0 && MaxStrength <= 1)) throw new FormatException($"{where}: maxStrength must be within (0, 1], not {MaxStrength}");
        if (DefaultSteps < 0) throw new FormatException($"{where}: defaultSteps must not be negative");
        try
        {
            IntensityConvention.Validate("intensity");
        }
        catch (ImagingException ex)
        {
            throw new FormatException($"{where}: {ex.Message}");
        }
        if (Kind == ModelKind.Medfusion && IntensityConvention.Mode != IntensityMode.Fixed)
            throw new FormatException($"{where}: intensity: a medfusion model needs a fixed range, the range its samples are written in");
    }

    /// <summary>What a restoration model takes, for the imaging path.</summary>
    public ModelImageSpec ImageSpec() => new()
    {
        WindowSize = ImageSize,
        Scale = Task == RestorationTask.SuperResolve ? Scale : 1,
        TakesMask = Task == RestorationTask.Inpaint,
        Intensity = IntensityConvention,
        BytesPerPixel = Unet is null ? 4096 : WorkingBytesPerPixel(Unet),
    };

    /// <summary>
    /// Peak memory of one restoration forward pass without gradients, per pixel of its input, as measured: the bundled
    /// denoiser ran a 1024 x 1024 image whole at 5.4 GB peak RSS (bench/RESULTS.md, "Imaging path"), about 24 tensors
    /// of each level's width at its resolution (the residual blocks' intermediates, skips, concatenations and the
    /// allocator's slack) plus the sampler's few dozen full-resolution images.
    /// </summary>
    public static long WorkingBytesPerPixel(UNetConfig unet)
    {
        double perPixel = 48;
        long stride = 1;
        for (var l = 0; l < unet.HidChs.Length; l++)
        {
            stride *= unet.Strides[l];
            perPixel += 24.0 * unet.HidChs[l] / (stride * stride);
        }
        return (long)Math.Ceiling(perPixel * sizeof(float));
    }
}

/// <summary>
/// What a generative model's images show: the acquisition they imitate and the anatomy, so that a synthetic image can be
/// filed in the IOD a viewer expects (a chest radiograph as Digital X-Ray) rather than as a bare Secondary Capture.
/// </summary>
public sealed record GeneratedImageContent
{
    /// <summary>The modality of the training images, e.g. DX; DX makes Digital X-Ray the default IOD of synthetic images.</summary>
    public string Modality { get; init; } = "";
    /// <summary>Body Part Examined (0018,0015) Defined Term, e.g. CHEST.</summary>
    public string BodyPart { get; init; } = "";
    /// <summary>The anatomic region as a code (DX: CID 4009), e.g. 51185008 SCT "Chest".</summary>
    public MedfusionDicom.Dicom.Derived.DicomCodedEntry? AnatomicRegion { get; init; }
    /// <summary>View Position (0018,5101), e.g. AP or PA.</summary>
    public string ViewPosition { get; init; } = "";
    /// <summary>Patient Orientation of the rows and columns as the training images are shown, e.g. ["L", "F"].</summary>
    public string[] PatientOrientation { get; init; } = [];
    /// <summary>Nominal pixel spacing of the training images in mm (the originals were resized: no detector measured it).</summary>
    public double PixelSpacingMm { get; init; } = 1.0;
}
