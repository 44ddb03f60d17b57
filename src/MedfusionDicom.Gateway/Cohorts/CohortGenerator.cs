using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Derived;
using MedfusionDicom.Dicom.FileSets;
using MedfusionDicom.Diffusion.Evaluation;
using MedfusionDicom.Diffusion.Models;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Schedulers;
using MedfusionDicom.Diffusion.Training;
using MedfusionDicom.Imaging;
using TorchSharp;

namespace MedfusionDicom.Gateway.Cohorts;

/// <summary>Where a cohort's generation is: images written of all, samples blocked so far, and the rate.</summary>
public readonly record struct CohortProgress(int ImagesDone, int ImagesTotal, int Blocked, double ImagesPerSecond);

/// <summary>
/// Makes a de-identified synthetic cohort with a Medfusion model: patients with one study each and a series of their
/// label (<see cref="CohortPlan"/>), images as Digital X-Ray or Secondary Capture through the derived-image builder, a
/// DICOMDIR, `manifest.csv`, the memorization screen, the classifier metrics against the real test split, a contact
/// sheet and `report.json` / `report.html`. Every number of the report is taken from the images as written: the
/// screen and the metrics read the stored pixels back into model space, the way a user of the cohort would.
/// </summary>
public static class CohortGenerator
{
    public const string FileSetId = "SYNTHETIC";
    public const string AlgorithmVersion = "1.0";
    public const string ManifestFile = "manifest.csv";
    public const string ReportJsonFile = "report.json";
    public const string ReportHtmlFile = "report.html";
    public const string ContactSheetFile = "contact-sheet.png";
    public const string ImagesFolder = "DICOM";

    private const int ContactSheetColumns = 8;

    public static async Task<CohortReport> RunAsync(CohortRequest request, IProgress<CohortProgress>? progress = null,
        torch.Device? device = null, CancellationToken cancellationToken = default)
    {
        var total = Stopwatch.StartNew();
        var modelDirectory = Path.GetFullPath(request.ModelDirectory);
        var card = ModelLoader.LoadCard(modelDirectory);
        if (card.Kind != ModelKind.Medfusion) throw new CohortException($"{modelDirectory} is not a Medfusion (synthesis) model");
        request.Validate(card.Labels);
        var iod = request.Iod ?? (card.Content?.Modality == "DX" ? SyntheticIod.DigitalXRay : SyntheticIod.SecondaryCapture);
        if (iod == SyntheticIod.DigitalXRay && card.Content?.AnatomicRegion is null)
            throw new CohortException($"--iod dx: the model card ({modelDirectory}/config.json) names no anatomic region under \"content\"; a Digital X-Ray image needs one");
        var (trainingPath, notScreened) = TrainingData(request, card, modelDirectory);
        if (notScreened is not null && request.RequireScreening) throw new CohortException($"--require-screening: the cohort cannot be screened: {notScreened}");
        var output = PrepareOutput(request.OutputDirectory);

        var modelName = Path.GetFileName(modelDirectory);
        var weights = await WeightsHashAsync(modelDirectory, ModelLoader.ResolveVae(modelDirectory, card), cancellationToken).ConfigureAwait(false);
        var settings = new CohortSettings(modelName, modelDirectory, weights, request.Patients, request.ImagesPerPatient, request.Mix, request.Seed,
            request.Steps, SamplerName(request.Sampler), request.Guidance, iod == SyntheticIod.DigitalXRay ? "dx" : "sc",
            iod == SyntheticIod.DigitalXRay ? DicomUID.DigitalXRayImageStorageForPresentation.UID : DicomUID.SecondaryCaptureImageStorage.UID,
            request.FirstStudyDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), request.LastStudyDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            notScreened is null ? request.MaxSimilarity : null, request.MaxAttempts, "");
        var fingerprint = Fingerprint(settings);
        settings = settings with { Fingerprint = fingerprint };
        var plan = CohortPlan.Create(request, card.Labels, fingerprint);

        var load = Stopwatch.StartNew();
        var (_, unet, scheduler) = ModelLoader.LoadDiffusion(modelDirectory, device);
        using var unetScope = unet;
        using var vae = ModelLoader.LoadVae(ModelLoader.ResolveVae(modelDirectory, card), device);
        var pipeline = new LatentDiffusionPipeline(vae, unet, scheduler, card.LatentScale);
        load.Stop();

        var screening = new Stopwatch();
        using var training = trainingPath is null ? null : OpenTraining(trainingPath, card);
        screening.Start();
        var screen = training is null ? null : new MemorizationScreen(training, cancellationToken);
        screening.Stop();

        var run = new GenerationRun(request, card, plan, pipeline, screen, training, iod, output, settings, screening, progress);
        await run.GenerateAsync(cancellationToken).ConfigureAwait(false);

        await DicomDirectoryWriter.WriteAsync(output, run.Written.Select(w => w.Path), FileSetId, cancellationToken).ConfigureAwait(false);
        await WriteManifestAsync(Path.Combine(output, ManifestFile), run.Written, output, cancellationToken).ConfigureAwait(false);

        var metricsClock = Stopwatch.StartNew();
        var metrics = training is null
            ? new MetricsReport { Available = false, Reason = notScreened }
            : Score(request, card, trainingPath!, training, run.Written, cancellationToken);
        metricsClock.Stop();

        ContactSheet.Write(Path.Combine(output, ContactSheetFile), run.SheetRows, ContactSheetColumns);

        // The screen's share counts its thumbnails too: they are made for this cohort.
        var generating = run.Sampling.Elapsed.TotalSeconds + screening.Elapsed.TotalSeconds + run.Writing.Elapsed.TotalSeconds;
        var nearest = run.Written.Where(w => w.Nearest is not null).Select(w => w.Nearest!.Value.Ssim).ToList();
        var report = new CohortReport
        {
            Settings = settings,
            CreatedUtc = DateTime.UtcNow,
            Timings = new CohortTimings(load.Elapsed.TotalSeconds, run.Sampling.Elapsed.TotalSeconds, screening.Elapsed.TotalSeconds,
                run.Writing.Elapsed.TotalSeconds, metricsClock.Elapsed.TotalSeconds, total.Elapsed.TotalSeconds,
                run.Written.Count / Math.Max(generating, 1e-9), screening.Elapsed.TotalSeconds / Math.Max(generating, 1e-9)),
            Images = run.Written.Count,
            PatientsPerLabel = plan.PatientsPerLabel,
            ImagesPerLabel = request.Mix.ToDictionary(m => m.Label, m => run.Written.Count(w => w.Patient.Label == m.Label), StringComparer.Ordinal),
            Screen = screen is null
                ? new ScreenReport { Screened = false, Reason = notScreened }
                : new ScreenReport
                {
                    Screened = true,
                    TrainingData = trainingPath,
                    TrainingImages = screen.TrainingImages,
                    CandidatesPerSample = MemorizationScreen.Candidates,
                    MaxSimilarity = request.MaxSimilarity,
                    MeanNearestSsim = nearest.Count > 0 ? nearest.Average() : null,
                    MaxNearestSsim = nearest.Count > 0 ? nearest.Max() : null,
                    Blocked = run.Blocked,
                    Unresolved = run.Unresolved,
                },
            Metrics = metrics,
            Files = new CohortFiles("DICOMDIR", ManifestFile, ReportJsonFile, ReportHtmlFile, ContactSheetFile),
        };
        await File.WriteAllTextAsync(Path.Combine(output, ReportJsonFile), JsonSerializer.Serialize(report, CohortReport.Json) + "\n", cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(output, ReportHtmlFile), CohortReportHtml.Render(report), cancellationToken).ConfigureAwait(false);
        return report;
    }

    /// <summary>SHA-256 over the UNet's weights and then the VAE's: what the images are made with.</summary>
    private static async Task<string> WeightsHashAsync(string modelDirectory, string vaeDirectory, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var path in new[] { Path.Combine(modelDirectory, ModelLoader.WeightsFile), Path.Combine(vaeDirectory, ModelLoader.WeightsFile) })
        {
            await using var file = File.OpenRead(path);
            var buffer = new byte[1 << 16];
            int read;
            while ((read = await file.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0) hash.AppendData(buffer, 0, read);
        }
        return Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
    }

    /// <summary>The path of a written image relative to the cohort, as the manifest and the DICOMDIR name it.</summary>
    public static string RelativeFileId(string cohortDirectory, string path) => Path.GetRelativePath(cohortDirectory, path).Replace(Path.DirectorySeparatorChar, '/');

    private static (string? Path, string? NotScreened) TrainingData(CohortRequest request, ModelCard card, string modelDirectory)
    {
        if (request.TrainingData is { } given)
        {
            var full = Path.GetFullPath(given);
            if (!File.Exists(full)) throw new CohortException($"--training-data {given}: no such file");
            return (full, null);
        }
        var named = card.TrainingDataPath(modelDirectory);
        if (named is null) return (null, "the model card names no training data, and --training-data was not given");
        return File.Exists(named) ? (named, null) : (null, $"the model card's training data ({card.TrainingData}) is not on this machine, and --training-data was not given");
    }

    private static NpyImageSource OpenTraining(string path, ModelCard card)
    {
        if (!path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
            throw new CohortException($"--training-data {path}: an .npy set with labels.csv beside it is expected");
        NpyImageSource source;
        try
        {
            source = new NpyImageSource(path, card.IntensityConvention, "train");
        }
        catch (Exception e) when (e is IOException or FormatException or InvalidDataException or MedfusionDicom.Diffusion.Data.NpyFormatException)
        {
            throw new CohortException($"--training-data {path}: {e.Message}", e);
        }
        if (source.Size != card.ImageSize)
        {
            source.Dispose();
            throw new CohortException($"--training-data {path}: its images are {source.Size} pixels wide; the model makes {card.ImageSize}");
        }
        if (source.Count == 0)
        {
            source.Dispose();
            throw new CohortException($"--training-data {path}: its train split is empty");
        }
        return source;
    }

    /// <summary>A new or empty directory: a cohort is never mixed into other files.</summary>
    private static string PrepareOutput(string directory)
    {
        var full = Path.GetFullPath(directory);
        if (File.Exists(full)) throw new CohortException($"--out {directory} is a file");
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
            throw new CohortException($"--out {directory} is not empty; a cohort goes into a new or empty directory");
        Directory.CreateDirectory(full);
        return full;
    }

    /// <summary>
    /// What decides the images: the weights and the generation settings. The screen's settings are not part of it: they
    /// only choose which attempts are kept, and each attempt's instance UID names its own seed.
    /// </summary>
    private static string Fingerprint(CohortSettings settings)
    {
        // The directory is where the model lies, not what it is: the weights' hash says that.
        var text = JsonSerializer.Serialize(settings with { ModelDirectory = "", MaxSimilarity = null, MaxAttempts = 0 }, CohortReport.Json);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..32].ToLowerInvariant();
    }

    private static string SamplerName(SamplerKind sampler) => sampler switch
    {
        SamplerKind.Ddim => "ddim",
        SamplerKind.Ddpm => "ddpm",
        _ => "dpm++",
    };

    private static MetricsReport Score(CohortRequest request, ModelCard card, string trainingPath, IImageSource training, IReadOnlyList<WrittenImage> written, CancellationToken ct)
    {
        using var test = new NpyImageSource(trainingPath, card.IntensityConvention, "test");
        if (test.Count < 2) return new MetricsReport { Available = false, Reason = $"{trainingPath} has no test split of at least 2 images" };
        if (written.Count < 2) return new MetricsReport { Available = false, Reason = "the metrics need at least 2 images" };
        var scored = EvenSpread(written, request.MetricsSampleLimit);
        var images = new List<float[]>(scored.Count);
        var labels = new List<int>(scored.Count);
        foreach (var image in scored)
        {
            ct.ThrowIfCancellationRequested();
            images.Add(ReadModelImage(image.Path, card).Data);
            labels.Add(IndexOf(training.Labels, image.Patient.Label, trainingPath));
        }
        using var scorer = SynthesisScorer.Train(training, test, request.ClassifierSteps, request.Seed);
        var scores = scorer.Score(images, labels);
        return new MetricsReport
        {
            Available = true,
            ClassifierSteps = request.ClassifierSteps,
            ClassifierSeed = request.Seed,
            RealTestImages = scorer.RealImages,
            ScoredImages = scored.Count,
            ClassifierTestAccuracy = scorer.ClassifierTestAccuracy,
            AccuracyPerLabel = scores.AccuracyPerLabel,
            FrechetDistance = scores.FrechetDistance,
            Precision = scores.Precision,
            Recall = scores.Recall,
        };
    }

    /// <summary>At most <paramref name="limit"/> items, evenly spread over the list (all when it is shorter).</summary>
    public static IReadOnlyList<T> EvenSpread<T>(IReadOnlyList<T> items, int limit)
    {
        if (items.Count <= limit) return items;
        return Enumerable.Range(0, limit).Select(k => items[(int)((long)k * items.Count / limit)]).ToList();
    }

    /// <summary>A written image's pixels in the model's space: what the screen and the metrics look at.</summary>
    public static Image2D ReadModelImage(string path, ModelCard card) =>
        SourceImage.Open(DicomFile.Open(path).Dataset).ModelImage(0, card.IntensityConvention);

    private static int IndexOf(IReadOnlyList<string> labels, string label, string where)
    {
        for (var i = 0; i < labels.Count; i++) if (labels[i] == label) return i;
        throw new CohortException($"{where} has no images labelled '{label}' (it has {string.Join(", ", labels)})");
    }

    private static async Task WriteManifestAsync(string path, IReadOnlyList<WrittenImage> written, string root, CancellationToken ct)
    {
        var sb = new StringBuilder();
        sb.AppendLine("patient_number,patient_id,patient_name,label,study_instance_uid,series_instance_uid,sop_instance_uid,file,image,attempt,seed,nearest_training_index,nearest_training_ssim");
        foreach (var w in written)
        {
            var p = w.Patient;
            sb.Append(CultureInfo.InvariantCulture, $"{p.Number},{p.PatientId},{p.PatientName},{Csv(p.Label)},{p.StudyInstanceUid},{w.SeriesInstanceUid},{w.SopInstanceUid},");
            sb.Append(CultureInfo.InvariantCulture, $"{RelativeFileId(root, w.Path)},{w.Image},{w.Attempt},{w.Seed},");
            sb.AppendLine(w.Nearest is { } n ? string.Create(CultureInfo.InvariantCulture, $"{n.Index},{n.Ssim:R}") : ",");
        }
        await File.WriteAllTextAsync(path, sb.ToString(), ct).ConfigureAwait(false);
    }

    private static string Csv(string value) => value.IndexOfAny([',', '"', '\n', '\r']) < 0 ? value : "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}

/// <summary>An image of the cohort as written.</summary>
public sealed record WrittenImage(CohortPatient Patient, int Image, int Attempt, ulong Seed, string Path, string SeriesInstanceUid,
    string SopInstanceUid, NearestTrainingImage? Nearest);
