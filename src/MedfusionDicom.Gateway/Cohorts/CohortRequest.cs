using System.Globalization;
using MedfusionDicom.Dicom.Derived;
using MedfusionDicom.Diffusion.Schedulers;

namespace MedfusionDicom.Gateway.Cohorts;

/// <summary>A cohort that cannot be made as asked: the message says which setting and why.</summary>
public sealed class CohortException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>One label of the mix and the share of patients that get it.</summary>
public sealed record LabelShare(string Label, double Fraction)
{
    /// <summary>"NORMAL=0.5,PNEUMONIA=0.5": labels with fractions that sum to 1.</summary>
    public static IReadOnlyList<LabelShare> ParseMix(string mix)
    {
        var shares = new List<LabelShare>();
        foreach (var part in mix.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !double.TryParse(part[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var fraction))
                throw new CohortException($"--mix: '{part}' is not LABEL=FRACTION (e.g. NORMAL=0.5)");
            shares.Add(new LabelShare(part[..eq].Trim(), fraction));
        }
        if (shares.Count == 0) throw new CohortException("--mix names no label (e.g. NORMAL=0.5,PNEUMONIA=0.5)");
        return shares;
    }
}

/// <summary>What a synthetic cohort is to hold and how it is made (`medfusion cohort`, or a gateway job).</summary>
public sealed record CohortRequest
{
    /// <summary>The Medfusion model's directory.</summary>
    public required string ModelDirectory { get; init; }
    public required int Patients { get; init; }
    public required IReadOnlyList<LabelShare> Mix { get; init; }
    public int ImagesPerPatient { get; init; } = 1;
    /// <summary>Where the cohort goes: a new or empty directory.</summary>
    public required string OutputDirectory { get; init; }
    public long Seed { get; init; }
    public int Steps { get; init; } = 25;
    public SamplerKind Sampler { get; init; } = SamplerKind.DpmSolver;
    /// <summary>Classifier-free guidance scale (1: plain conditional).</summary>
    public double Guidance { get; init; } = 1.0;
    /// <summary>The training images to screen against (.npy with labels.csv); null: the ones the model card names.</summary>
    public string? TrainingData { get; init; }
    /// <summary>A sample whose nearest training image has a higher SSIM is blocked and generated again; null: nothing is blocked.</summary>
    public double? MaxSimilarity { get; init; } = 0.9;
    /// <summary>Fail rather than write a cohort that was not screened (no training data).</summary>
    public bool RequireScreening { get; init; }
    /// <summary>Tries per image, the first included, before an image that stays too similar is left out.</summary>
    public int MaxAttempts { get; init; } = 5;
    /// <summary>Null: Digital X-Ray when the model card says its images are DX, else Secondary Capture.</summary>
    public SyntheticIod? Iod { get; init; }
    /// <summary>Training steps of the feature classifier behind the report's accuracy, Fréchet distance and precision/recall.</summary>
    public int ClassifierSteps { get; init; } = 300;
    /// <summary>Study dates are drawn from this synthetic range (inclusive).</summary>
    public DateOnly FirstStudyDate { get; init; } = new(2000, 1, 1);
    public DateOnly LastStudyDate { get; init; } = new(2009, 12, 31);
    /// <summary>At most this many images (evenly spread) are scored and shown in the contact sheet's rows.</summary>
    public int MetricsSampleLimit { get; init; } = 1024;

    /// <summary>The sampler by its name in the verb and the API: ddim, or dpm++ (DPM-Solver++ 2M, also "dpm-solver"; the default when empty).</summary>
    public static SamplerKind ParseSampler(string name) => name switch
    {
        "ddim" => SamplerKind.Ddim,
        "dpm++" or "dpm-solver" or "" => SamplerKind.DpmSolver,
        _ => throw new CohortException($"--sampler: '{name}' is not ddim or dpm++"),
    };

    /// <summary>The IOD by its name in the verb and the API: dx, sc, or empty (the model card decides).</summary>
    public static SyntheticIod? ParseIod(string? name) => name switch
    {
        null or "" => null,
        "dx" => SyntheticIod.DigitalXRay,
        "sc" => SyntheticIod.SecondaryCapture,
        _ => throw new CohortException($"--iod: '{name}' is not dx or sc"),
    };

    /// <summary>Rejects settings that cannot make a cohort, naming the option.</summary>
    public void Validate(IReadOnlyList<string> modelLabels)
    {
        if (Patients < 1) throw new CohortException($"--patients must be at least 1, not {Patients}");
        if (ImagesPerPatient < 1) throw new CohortException($"--images-per-patient must be at least 1, not {ImagesPerPatient}");
        if (Steps < 1) throw new CohortException($"--steps must be at least 1, not {Steps}");
        if (MaxAttempts < 1) throw new CohortException($"--max-attempts must be at least 1, not {MaxAttempts}");
        if (ClassifierSteps < 1) throw new CohortException($"--classifier-steps must be at least 1, not {ClassifierSteps}");
        if (MaxSimilarity is { } max && !(max is >= -1 and <= 1)) throw new CohortException($"--max-similarity is an SSIM, from -1 to 1; not {max}");
        if (LastStudyDate < FirstStudyDate) throw new CohortException($"the study date range ends ({LastStudyDate:yyyy-MM-dd}) before it starts ({FirstStudyDate:yyyy-MM-dd})");
        foreach (var share in Mix)
        {
            if (!modelLabels.Contains(share.Label, StringComparer.Ordinal))
                throw new CohortException($"--mix: the model knows no label '{share.Label}' (it knows {string.Join(", ", modelLabels)})");
            if (!(share.Fraction > 0 && share.Fraction <= 1)) throw new CohortException($"--mix: {share.Label}'s fraction must be in (0, 1], not {share.Fraction}");
        }
        if (Mix.Select(s => s.Label).Distinct(StringComparer.Ordinal).Count() != Mix.Count) throw new CohortException("--mix names a label twice");
        var sum = Mix.Sum(s => s.Fraction);
        if (Math.Abs(sum - 1) > 1e-6) throw new CohortException($"--mix: the fractions sum to {sum.ToString(CultureInfo.InvariantCulture)}, not 1");
    }
}
