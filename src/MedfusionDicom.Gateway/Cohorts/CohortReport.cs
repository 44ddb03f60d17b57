using System.Text.Json;
using System.Text.Json.Serialization;

namespace MedfusionDicom.Gateway.Cohorts;

/// <summary>
/// What `report.json` says of a cohort: how it was made, how long it took, what the memorization screen found and how
/// the images score against the real test split. `report.html` shows the same for a person (<see cref="CohortReportHtml"/>).
/// </summary>
public sealed record CohortReport
{
    public required CohortSettings Settings { get; init; }
    /// <summary>When the cohort was made (real time, UTC). The DICOM headers carry only synthetic dates.</summary>
    public required DateTime CreatedUtc { get; init; }
    public required CohortTimings Timings { get; init; }
    public required int Images { get; init; }
    public required IReadOnlyDictionary<string, int> PatientsPerLabel { get; init; }
    public required IReadOnlyDictionary<string, int> ImagesPerLabel { get; init; }
    public required ScreenReport Screen { get; init; }
    public required MetricsReport Metrics { get; init; }
    public required CohortFiles Files { get; init; }

    public static JsonSerializerOptions Json { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };
}

/// <summary>How the cohort was made; WeightsSha256 is over the UNet's weights and then the VAE's.</summary>
public sealed record CohortSettings(string Model, string ModelDirectory, string WeightsSha256, int Patients, int ImagesPerPatient,
    IReadOnlyList<LabelShare> Mix, long Seed, int Steps, string Sampler, double Guidance, string Iod, string SopClassUid,
    string FirstStudyDate, string LastStudyDate, double? MaxSimilarity, int MaxAttempts, string Fingerprint);

/// <summary>Seconds per phase; images/s counts the images written over sampling, screening and writing.</summary>
public sealed record CohortTimings(double LoadSeconds, double SamplingSeconds, double ScreeningSeconds, double WritingSeconds,
    double MetricsSeconds, double TotalSeconds, double ImagesPerSecond, double ScreenShare);

/// <summary>A sample the screen stopped, with its nearest training image.</summary>
public sealed record BlockedSample(string PatientId, int Image, int Attempt, string Seed, int NearestTrainingIndex, string NearestTraining, double Ssim);

public sealed record ScreenReport
{
    public required bool Screened { get; init; }
    /// <summary>Why not, when not screened.</summary>
    public string? Reason { get; init; }
    public string? TrainingData { get; init; }
    public int TrainingImages { get; init; }
    public int CandidatesPerSample { get; init; }
    public double? MaxSimilarity { get; init; }
    public double? MeanNearestSsim { get; init; }
    public double? MaxNearestSsim { get; init; }
    /// <summary>Samples above the threshold, each generated again with a new seed.</summary>
    public IReadOnlyList<BlockedSample> Blocked { get; init; } = [];
    /// <summary>Images left out: every attempt stayed above the threshold.</summary>
    public IReadOnlyList<BlockedSample> Unresolved { get; init; } = [];
}

public sealed record MetricsReport
{
    public required bool Available { get; init; }
    public string? Reason { get; init; }
    public int ClassifierSteps { get; init; }
    public long ClassifierSeed { get; init; }
    public int RealTestImages { get; init; }
    /// <summary>The images scored: all, or an even spread of at most the request's limit.</summary>
    public int ScoredImages { get; init; }
    public double? ClassifierTestAccuracy { get; init; }
    public IReadOnlyDictionary<string, double>? AccuracyPerLabel { get; init; }
    public double? FrechetDistance { get; init; }
    public double? Precision { get; init; }
    public double? Recall { get; init; }
}

public sealed record CohortFiles(string DicomDirectory, string Manifest, string ReportJson, string ReportHtml, string ContactSheet);
