using System.CommandLine;
using System.Globalization;
using MedfusionDicom.Diffusion.Training;
using MedfusionDicom.Gateway.Cohorts;

namespace MedfusionDicom.Cli.Commands;

/// <summary>`medfusion cohort`: a de-identified synthetic cohort made with a Medfusion model (<see cref="CohortGenerator"/>).</summary>
internal static class CohortCommand
{
    public static Command Create()
    {
        var defaults = new CohortRequest { ModelDirectory = "", Patients = 1, Mix = [], OutputDirectory = "" };
        var model = new Option<string>("--model") { Description = "The Medfusion model: a folder, or a bundled model's name (e.g. medfusion-cxr)", Required = true };
        var patients = new Option<int>("--patients") { Description = "Synthetic patients, each with one study", Required = true };
        var mix = new Option<string>("--mix") { Description = "Labels and the share of patients of each, e.g. NORMAL=0.5,PNEUMONIA=0.5 (the shares sum to 1)", Required = true };
        var perPatient = new Option<int>("--images-per-patient") { Description = "Images in each patient's series", DefaultValueFactory = _ => defaults.ImagesPerPatient };
        var output = new Option<string>("--out") { Description = "A new or empty folder for the cohort (DICOMDIR, DICOM/, manifest.csv, report.json, report.html, contact-sheet.png)", Required = true };
        var seed = new Option<long>("--seed") { Description = "The same seed and settings give the same cohort, UIDs included", DefaultValueFactory = _ => defaults.Seed };
        var steps = new Option<int>("--steps") { Description = "Sampler steps", DefaultValueFactory = _ => defaults.Steps };
        var sampler = new Option<string>("--sampler") { Description = "ddim or dpm++ (DPM-Solver++ 2M)", DefaultValueFactory = _ => "dpm++" };
        var guidance = new Option<double>("--guidance") { Description = "Classifier-free guidance scale (1 = plain conditional)", DefaultValueFactory = _ => defaults.Guidance };
        var trainingData = new Option<string?>("--training-data") { Description = "The training images to screen against and score with (.npy with labels.csv beside it); default: the ones the model card names" };
        var maxSimilarity = new Option<double?>("--max-similarity")
        {
            Description = "A sample whose nearest training image has a higher SSIM is blocked and generated again with a new seed",
            DefaultValueFactory = _ => defaults.MaxSimilarity,
        };
        var maxAttempts = new Option<int>("--max-attempts") { Description = "Tries per image before one that stays too similar is left out", DefaultValueFactory = _ => defaults.MaxAttempts };
        var requireScreening = new Option<bool>("--require-screening") { Description = "Fail instead of writing a cohort that could not be screened (no training data)" };
        var iod = new Option<string?>("--iod") { Description = "dx (Digital X-Ray For Presentation; the default for a model of DX images, e.g. the CXR model) or sc (Secondary Capture)" };
        var classifierSteps = new Option<int>("--classifier-steps") { Description = "Training steps of the feature classifier behind the report's metrics", DefaultValueFactory = _ => defaults.ClassifierSteps };
        var dates = new Option<string>("--date-range")
        {
            Description = "The synthetic range study dates are drawn from, FIRST..LAST as YYYY-MM-DD",
            DefaultValueFactory = _ => string.Create(CultureInfo.InvariantCulture, $"{defaults.FirstStudyDate:yyyy-MM-dd}..{defaults.LastStudyDate:yyyy-MM-dd}"),
        };
        var device = DeviceOptions.Create();
        var cmd = new Command("cohort", "Generate a de-identified synthetic cohort: patients, studies and series as DICOM, with a DICOMDIR, a manifest, a memorization screen and a report")
        {
            model, patients, mix, perPatient, output, seed, steps, sampler, guidance, trainingData, maxSimilarity, maxAttempts, requireScreening, iod,
            classifierSteps, dates, device,
        };
        CliAction.Set(cmd, async (parse, ct) =>
        {
            var (first, last) = ParseDates(parse.GetValue(dates)!);
            var request = new CohortRequest
            {
                ModelDirectory = DiffusionCommands.ResolveModel(parse.GetValue(model)!),
                Patients = parse.GetValue(patients),
                Mix = LabelShare.ParseMix(parse.GetValue(mix)!),
                ImagesPerPatient = parse.GetValue(perPatient),
                OutputDirectory = parse.GetValue(output)!,
                Seed = parse.GetValue(seed),
                Steps = parse.GetValue(steps),
                Sampler = CohortRequest.ParseSampler(parse.GetValue(sampler)!),
                Guidance = parse.GetValue(guidance),
                TrainingData = parse.GetValue(trainingData),
                MaxSimilarity = parse.GetValue(maxSimilarity),
                MaxAttempts = parse.GetValue(maxAttempts),
                RequireScreening = parse.GetValue(requireScreening),
                Iod = CohortRequest.ParseIod(parse.GetValue(iod)),
                ClassifierSteps = parse.GetValue(classifierSteps),
                FirstStudyDate = first,
                LastStudyDate = last,
            };
            var bar = new InlineProgress<CohortProgress>(p => ProgressBar.WriteImages(Console.Error, p.ImagesDone, p.ImagesTotal, p.ImagesPerSecond,
                p.Blocked == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $", {p.Blocked} blocked")));
            var report = await CohortGenerator.RunAsync(request, bar, DeviceOptions.Resolve(parse, device), ct);
            Console.Error.WriteLine();
            Console.Out.WriteLine(CohortSummary(report, request.OutputDirectory));
            if (report.Screen.Unresolved.Count > 0)
            {
                Console.Error.WriteLine($"medfusion: {report.Screen.Unresolved.Count} image(s) stayed above --max-similarity {report.Screen.MaxSimilarity} after {request.MaxAttempts} attempts and were left out; see report.html");
                return CliAction.Failed;
            }
            return CliAction.Ok;
        });
        return cmd;
    }

    private static (DateOnly First, DateOnly Last) ParseDates(string range)
    {
        var parts = range.Split("..");
        if (parts.Length == 2
            && DateOnly.TryParseExact(parts[0].Trim(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var first)
            && DateOnly.TryParseExact(parts[1].Trim(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var last))
            return (first, last);
        throw new CohortException($"--date-range: '{range}' is not FIRST..LAST as YYYY-MM-DD (e.g. 2000-01-01..2009-12-31)");
    }

    private static string CohortSummary(CohortReport r, string output)
    {
        var screen = r.Screen.Screened
            ? string.Create(CultureInfo.InvariantCulture, $"screened against {r.Screen.TrainingImages} training images: max SSIM {r.Screen.MaxNearestSsim:0.###}, {r.Screen.Blocked.Count} blocked and generated again")
            : "not screened: " + r.Screen.Reason;
        return string.Create(CultureInfo.InvariantCulture,
            $"medfusion: cohort of {r.Settings.Patients} patients, {r.Images} images ({r.Settings.Iod}) in {output}; {r.Timings.ImagesPerSecond:0.##} images/s; {screen}");
    }
}
