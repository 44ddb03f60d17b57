using System.Diagnostics;
using System.Globalization;
using MedfusionDicom.Dicom.Derived;
using MedfusionDicom.Diffusion.Evaluation;
using MedfusionDicom.Diffusion.Models;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Schedulers;
using MedfusionDicom.Diffusion.Training;
using MedfusionDicom.Imaging;
using MedfusionDicom.Torch;
using TorchSharp;

namespace MedfusionDicom.Gateway.Cohorts;

/// <summary>
/// The generation loop of one cohort: for each planned image, sample with the image's seed, build the DICOM instance,
/// read its stored pixels back, screen them, and write the instance or try again with the next seed. It keeps what the
/// report needs (the images written, the samples blocked, a few images per label for the contact sheet) and the time
/// of each phase.
/// </summary>
internal sealed class GenerationRun(CohortRequest request, ModelCard card, CohortPlan plan, LatentDiffusionPipeline pipeline,
    MemorizationScreen? screen, IImageSource? training, SyntheticIod iod, string output, CohortSettings settings,
    Stopwatch screening, IProgress<CohortProgress>? progress)
{
    private readonly Dictionary<string, List<Image2D>> _sheet = new(StringComparer.Ordinal);

    public List<WrittenImage> Written { get; } = [];
    public List<BlockedSample> Blocked { get; } = [];
    public List<BlockedSample> Unresolved { get; } = [];
    public Stopwatch Sampling { get; } = new();
    public Stopwatch Writing { get; } = new();

    /// <summary>The contact sheet's rows: the first images of each label, in the mix's order.</summary>
    public IReadOnlyList<(string Label, IReadOnlyList<Image2D> Images)> SheetRows =>
        request.Mix.Where(m => _sheet.ContainsKey(m.Label)).Select(m => (m.Label, (IReadOnlyList<Image2D>)_sheet[m.Label])).ToList();

    public async Task GenerateAsync(CancellationToken ct)
    {
        var total = plan.Patients.Count * request.ImagesPerPatient;
        var clock = Stopwatch.StartNew();
        foreach (var patient in plan.Patients)
        {
            var builder = new DerivedImageBuilder(Processing(patient));
            var subject = Subject(patient);
            for (var image = 1; image <= request.ImagesPerPatient; image++)
            {
                await GenerateImageAsync(builder, subject, patient, image, ct).ConfigureAwait(false);
                progress?.Report(new CohortProgress(Written.Count + Unresolved.Count, total, Blocked.Count, Written.Count / Math.Max(clock.Elapsed.TotalSeconds, 1e-9)));
            }
        }
    }

    private async Task GenerateImageAsync(DerivedImageBuilder builder, SyntheticSubject subject, CohortPatient patient, int image, CancellationToken ct)
    {
        BlockedSample? last = null;
        for (var attempt = 1; attempt <= request.MaxAttempts; attempt++)
        {
            var seed = plan.ImageSeed(patient, image, attempt);
            Sampling.Start();
            var sample = Sample(patient.LabelIndex, seed, ct);
            var instance = builder.BuildSynthetic(subject, DicomImageProcessor.Synthetic(sample, card.IntensityConvention), image,
                seed.ToString(CultureInfo.InvariantCulture));
            Sampling.Stop();

            NearestTrainingImage? nearest = null;
            if (screen is not null)
            {
                screening.Start();
                // What the screen sees is what is stored: the instance's pixels read back into model space.
                nearest = screen.Nearest(SourceImage.Open(instance.Dataset).ModelImage(0, card.IntensityConvention));
                screening.Stop();
                if (request.MaxSimilarity is { } max && nearest.Value.Ssim > max)
                {
                    last = new BlockedSample(patient.PatientId, image, attempt, seed.ToString(CultureInfo.InvariantCulture), nearest.Value.Index,
                        training!.Describe(nearest.Value.Index), nearest.Value.Ssim);
                    Blocked.Add(last);
                    continue;
                }
            }

            Writing.Start();
            var path = Path.Combine(output, CohortGenerator.ImagesFolder, $"P{patient.Number:D7}", "ST000001", "SE000001", $"IM{image:D6}");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await instance.ToFile().SaveAsync(path, cancellationToken: ct).ConfigureAwait(false);
            Writing.Stop();
            Written.Add(new WrittenImage(patient, image, attempt, seed, path, instance.SeriesInstanceUid, instance.SopInstanceUid, nearest));
            KeepForSheet(patient.Label, sample);
            return;
        }
        Unresolved.Add(last!);
    }

    private Image2D Sample(int label, ulong seed, CancellationToken ct)
    {
        using var generator = new torch.Generator(seed);
        using var scope = torch.NewDisposeScope();
        var options = new SamplingOptions { Steps = request.Steps, Generator = generator, CancellationToken = ct };
        var images = pipeline.Sample([label], card.ImageSize, card.ImageSize, request.Sampler, options, request.Guidance);
        return new Image2D(card.ImageSize, card.ImageSize, images.contiguous().ToArray<float>());
    }

    private void KeepForSheet(string label, Image2D image)
    {
        if (!_sheet.TryGetValue(label, out var row)) _sheet[label] = row = [];
        if (row.Count < ContactSheet.MaxPerRow) row.Add(image);
    }

    private DerivedImageProcessing Processing(CohortPatient patient) => new()
    {
        DerivationDescription = string.Create(CultureInfo.InvariantCulture,
            $"Synthetic {patient.Label} image generated by Medfusion latent diffusion ({settings.Model}, weights sha256 {settings.WeightsSha256[..16]}, {settings.Sampler} {request.Steps} steps, guidance {request.Guidance}); no patient's data"),
        AlgorithmName = "Medfusion",
        AlgorithmVersion = CohortGenerator.AlgorithmVersion,
        ModelName = $"{settings.Model} {settings.WeightsSha256[..12]}",
        SeriesDescription = $"Synthetic {patient.Label} (Medfusion)",
        SeriesNumber = 1,
        UidSeed = [plan.SeriesUidSeed(patient)],
        IsSynthetic = true,
        // Every date of the instance is the synthetic study's: none says when the cohort was really made.
        ProcessingTime = patient.StudyDateTime,
    };

    private SyntheticSubject Subject(CohortPatient patient)
    {
        var content = card.Content;
        return new SyntheticSubject
        {
            PatientId = patient.PatientId,
            PatientName = patient.PatientName,
            StudyInstanceUid = patient.StudyInstanceUid,
            StudyDateTime = patient.StudyDateTime,
            StudyId = "1",
            AccessionNumber = patient.AccessionNumber,
            StudyDescription = $"Synthetic cohort ({settings.Model})",
            Iod = iod,
            BodyPartExamined = content?.BodyPart ?? "",
            AnatomicRegion = content?.AnatomicRegion,
            ViewPosition = content?.ViewPosition ?? "",
            PatientOrientation = content?.PatientOrientation ?? [],
            ImagerPixelSpacingMm = content?.PixelSpacingMm ?? 1.0,
            DeidentificationMethod = "Synthetic data: generated by a diffusion model; no patient data",
        };
    }
}
