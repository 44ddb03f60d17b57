using System.Globalization;
using System.Text;
using System.Text.Json;
using MedfusionDicom.Cli.Commands;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Tests.Fixtures;
using MedfusionDicom.Diffusion.Evaluation;
using MedfusionDicom.Diffusion.Models;
using MedfusionDicom.Diffusion.Training;
using MedfusionDicom.Gateway.Cohorts;
using MedfusionDicom.Imaging;

namespace MedfusionDicom.Cli.Tests;

/// <summary>
/// `medfusion cohort` with the bundled Medfusion model: a 20-patient cohort checked by dcmtk and dciodvfy, its report
/// recomputed from the files, the same seed giving the same bytes, and a training set that holds copies of some of the
/// cohort's images making the memorization screen block and regenerate exactly those.
/// </summary>
public sealed class CohortVerbTests : IDisposable
{
    private const int Size = 128;
    private readonly string _root = Directory.CreateTempSubdirectory("cohort-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task A_cohort_of_20_patients_is_a_valid_file_set_whose_report_is_what_its_files_show_and_the_same_seed_gives_the_same_bytes()
    {
        var training = WriteTrainingSet(Path.Combine(_root, "training"), FixtureImages(40), copies: []);
        var a = Path.Combine(_root, "a");
        var run = Cohort(a, training);
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("cohort of 20 patients, 40 images (dx)", run.Stdout, StringComparison.Ordinal);

        // DICOMDIR: dcmtk reads it, dciodvfy accepts it, every referenced file exists and every file is referenced.
        var dicomdir = Path.Combine(a, "DICOMDIR");
        var fileSet = DcmtkFileSet.Read(a);
        Assert.True(fileSet.IsFileSet, fileSet.Output);
        Assert.Equal((20, 20, 20, 40), (fileSet.Count("PATIENT"), fileSet.Count("STUDY"), fileSet.Count("SERIES"), fileSet.Count("IMAGE")));
        var referenced = fileSet.ReferencedFiles.Order(StringComparer.Ordinal).ToList();
        var files = Directory.GetFiles(Path.Combine(a, "DICOM"), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(files, referenced);
        var dirReport = Dciodvfy.Run(dicomdir);
        Assert.True(dirReport.Errors.Count == 0, string.Join("\n", dirReport.Errors));

        // Every instance: a valid DX image of a synthetic, de-identified patient, dated in the synthetic range.
        var manifest = Manifest(a);
        Assert.Equal(40, manifest.Count);
        Assert.Equal(files.Select(f => CohortGenerator.RelativeFileId(a, f)).Order(StringComparer.Ordinal), manifest.Select(m => m["file"]).Order(StringComparer.Ordinal));
        foreach (var row in manifest)
        {
            var path = Path.Combine(a, row["file"]);
            var report = Dciodvfy.Run(path);
            Assert.True(report.Errors.All(DciodvfyReport.IsToolGap), $"{row["file"]}: {string.Join("\n", report.Errors)}");
            var ds = (await DicomFile.OpenAsync(path)).Dataset;
            Assert.Equal(DicomUID.DigitalXRayImageStorageForPresentation.UID, ds.GetString(DicomTag.SOPClassUID));
            Assert.Equal("YES", ds.GetString(DicomTag.SyntheticData));
            Assert.Equal("YES", ds.GetString(DicomTag.PatientIdentityRemoved));
            Assert.Contains("Synthetic", ds.GetString(DicomTag.DeidentificationMethod), StringComparison.Ordinal);
            var equipment = ds.GetSequence(DicomTag.ContributingEquipmentSequence).Items.Single();
            Assert.Equal("109100", equipment.GetSequence(DicomTag.PurposeOfReferenceCodeSequence).Items[0].GetString(DicomTag.CodeValue));
            Assert.Equal("Medfusion", equipment.GetString(DicomTag.ManufacturerModelName));
            Assert.StartsWith("medfusion-cxr ", equipment.GetValues<string>(DicomTag.SoftwareVersions)[1], StringComparison.Ordinal);
            Assert.Equal(row["patient_id"], ds.GetString(DicomTag.PatientID));
            Assert.Equal(row["label"], ds.GetString(DicomTag.SeriesDescription).Split(' ')[1]);
            Assert.Equal(row["sop_instance_uid"], ds.GetString(DicomTag.SOPInstanceUID));
            foreach (var tag in new[] { DicomTag.StudyDate, DicomTag.SeriesDate, DicomTag.ContentDate, DicomTag.InstanceCreationDate })
            {
                var date = DateOnly.ParseExact(ds.GetString(tag), "yyyyMMdd", CultureInfo.InvariantCulture);
                Assert.InRange(date, new DateOnly(2001, 1, 1), new DateOnly(2001, 12, 31));
            }
        }
        // One study per patient, its one series of the patient's label.
        foreach (var patient in manifest.GroupBy(m => m["patient_id"]))
        {
            Assert.Single(patient.Select(m => m["study_instance_uid"]).Distinct());
            Assert.Single(patient.Select(m => m["series_instance_uid"]).Distinct());
            Assert.Single(patient.Select(m => m["label"]).Distinct());
        }

        // The label mix is within one patient of what was asked (0.3 and 0.7 of 20).
        var perLabel = manifest.GroupBy(m => m["label"]).ToDictionary(g => g.Key, g => g.Select(m => m["patient_id"]).Distinct().Count());
        Assert.InRange(perLabel["NORMAL"], 5, 7);
        Assert.InRange(perLabel["PNEUMONIA"], 13, 15);
        Assert.Equal(20, perLabel.Values.Sum());

        // The report's numbers are the ones the files give.
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(a, "report.json")));
        var r = json.RootElement;
        Assert.Equal(40, r.GetProperty("images").GetInt32());
        Assert.Equal(perLabel["NORMAL"], r.GetProperty("patientsPerLabel").GetProperty("NORMAL").GetInt32());
        Assert.Equal(perLabel["PNEUMONIA"], r.GetProperty("patientsPerLabel").GetProperty("PNEUMONIA").GetInt32());
        var card = ModelLoader.LoadCard(DiffusionCommands.ResolveModel("medfusion-cxr"));
        using var train = new NpyImageSource(training, card.IntensityConvention, "train");
        // The fixture's train split is smaller than the screen's candidate list, so the screen was exhaustive: its
        // nearest image must be the most similar of all, by the SSIM the test computes itself.
        Assert.True(train.Count <= MemorizationScreen.Candidates);
        var nearest = new List<double>();
        foreach (var row in manifest)
        {
            var image = CohortGenerator.ReadModelImage(Path.Combine(a, row["file"]), card);
            var best = Enumerable.Range(0, train.Count).Select(i => (i, s: ImageMetrics.Ssim(image, new Image2D(Size, Size, train.Read(i))))).MaxBy(x => x.s);
            Assert.Equal(best.i, int.Parse(row["nearest_training_index"], CultureInfo.InvariantCulture));
            Assert.Equal(best.s, double.Parse(row["nearest_training_ssim"], CultureInfo.InvariantCulture), 12);
            nearest.Add(best.s);
        }
        var screen = r.GetProperty("screen");
        Assert.True(screen.GetProperty("screened").GetBoolean());
        Assert.Equal(nearest.Max(), screen.GetProperty("maxNearestSsim").GetDouble(), 12);
        Assert.Equal(nearest.Average(), screen.GetProperty("meanNearestSsim").GetDouble(), 12);
        Assert.Equal(0, screen.GetProperty("blocked").GetArrayLength());
        var t = r.GetProperty("timings");
        var generating = t.GetProperty("samplingSeconds").GetDouble() + t.GetProperty("screeningSeconds").GetDouble() + t.GetProperty("writingSeconds").GetDouble();
        Assert.Equal(40 / generating, t.GetProperty("imagesPerSecond").GetDouble(), 9);
        Assert.Equal(t.GetProperty("screeningSeconds").GetDouble() / generating, t.GetProperty("screenShare").GetDouble(), 9);

        // The metrics, recomputed from the files with the same classifier seed and steps.
        var metrics = r.GetProperty("metrics");
        Assert.True(metrics.GetProperty("available").GetBoolean());
        using var test = new NpyImageSource(training, card.IntensityConvention, "test");
        using var scorer = SynthesisScorer.Train(train, test, ClassifierSteps, seed: 7);
        var scores = scorer.Score(manifest.Select(m => CohortGenerator.ReadModelImage(Path.Combine(a, m["file"]), card).Data).ToList(),
            manifest.Select(m => train.Labels.ToList().IndexOf(m["label"])).ToList());
        Assert.Equal(scorer.ClassifierTestAccuracy, metrics.GetProperty("classifierTestAccuracy").GetDouble(), 9);
        foreach (var (label, accuracy) in scores.AccuracyPerLabel)
            Assert.Equal(accuracy, metrics.GetProperty("accuracyPerLabel").GetProperty(label).GetDouble(), 9);
        Assert.Equal(scores.FrechetDistance, metrics.GetProperty("frechetDistance").GetDouble(), 6);
        Assert.Equal(scores.Precision, metrics.GetProperty("precision").GetDouble(), 9);
        Assert.Equal(scores.Recall, metrics.GetProperty("recall").GetDouble(), 9);

        var html = await File.ReadAllTextAsync(Path.Combine(a, "report.html"));
        Assert.Contains("Memorization screen", html, StringComparison.Ordinal);
        Assert.Contains("contact-sheet.png", html, StringComparison.Ordinal);
        using (var sheet = SkiaSharp.SKBitmap.Decode(Path.Combine(a, "contact-sheet.png")))
            Assert.True(sheet is { Width: > Size, Height: > Size }, "the contact sheet is a PNG of several images");

        // The same seed and settings give the same cohort, byte for byte.
        var b = Path.Combine(_root, "b");
        Assert.Equal(0, Cohort(b, training).ExitCode);
        foreach (var name in files.Select(f => Path.GetRelativePath(a, f)).Append("DICOMDIR").Append("manifest.csv"))
            Assert.True(File.ReadAllBytes(Path.Combine(a, name)).SequenceEqual(File.ReadAllBytes(Path.Combine(b, name))), name);
    }

    [Fact]
    public async Task Training_images_that_copy_samples_make_the_screen_block_them_and_generate_them_again_and_the_report_lists_them()
    {
        var fixture = FixtureImages(40);
        var first = Path.Combine(_root, "first");
        Assert.Equal(0, Cohort(first, WriteTrainingSet(Path.Combine(_root, "plain"), fixture, copies: []), patients: 6, images: 1).ExitCode);
        var firstRows = Manifest(first);

        // Three of the cohort's images go into the training set: the same seed makes them again, and the screen must catch them.
        var card = ModelLoader.LoadCard(DiffusionCommands.ResolveModel("medfusion-cxr"));
        var copied = firstRows.Take(3).ToList();
        var copies = copied.Select(m => StoredBytes(Path.Combine(first, m["file"]))).ToList();
        var training = WriteTrainingSet(Path.Combine(_root, "memorized"), fixture, copies);
        var second = Path.Combine(_root, "second");
        var run = Cohort(second, training, patients: 6, images: 1, "--max-similarity", "0.95");
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("3 blocked and generated again", run.Stdout, StringComparison.Ordinal);

        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(second, "report.json")));
        var blocked = json.RootElement.GetProperty("screen").GetProperty("blocked").EnumerateArray().ToList();
        Assert.Equal(copied.Select(m => (m["patient_id"], m["seed"])), blocked.Select(x => (x.GetProperty("patientId").GetString()!, x.GetProperty("seed").GetString()!)));
        using var train = new NpyImageSource(training, card.IntensityConvention, "train");
        foreach (var x in blocked)
        {
            Assert.Equal(1, x.GetProperty("attempt").GetInt32());
            Assert.True(x.GetProperty("ssim").GetDouble() > 0.999, "a copy is its own nearest training image");
            Assert.Contains("copy-", x.GetProperty("nearestTraining").GetString(), StringComparison.Ordinal);
        }
        var secondRows = Manifest(second);
        foreach (var m in copied)
        {
            var again = secondRows.Single(r => r["patient_id"] == m["patient_id"]);
            Assert.Equal("2", again["attempt"]);
            Assert.NotEqual(m["seed"], again["seed"]);
            Assert.True(double.Parse(again["nearest_training_ssim"], CultureInfo.InvariantCulture) <= 0.95);
        }
        // The others were not touched: same seed, first attempt.
        foreach (var m in firstRows.Skip(3))
            Assert.Equal((m["seed"], "1"), secondRows.Where(r => r["patient_id"] == m["patient_id"]).Select(r => (r["seed"], r["attempt"])).Single());
        var html = await File.ReadAllTextAsync(Path.Combine(second, "report.html"));
        foreach (var m in copied) Assert.Contains(m["seed"], html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_training_data_the_report_says_not_screened_and_require_screening_makes_it_an_error()
    {
        // A copy of the bundled model whose card names no training data.
        var model = Path.Combine(_root, "model");
        CopyDirectory(DiffusionCommands.ResolveModel("medfusion-cxr"), model);
        var config = Path.Combine(model, "config.json");
        var card = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(config))!.AsObject();
        card.Remove("trainingData");
        await File.WriteAllTextAsync(config, card.ToJsonString());

        var refused = CliRunner.Run("cohort", "--model", model, "--patients", "2", "--mix", "NORMAL=1", "--out", Path.Combine(_root, "refused"), "--require-screening");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("--require-screening", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("names no training data", refused.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_root, "refused")), "nothing is written when the cohort is refused");

        var unscreened = Path.Combine(_root, "unscreened");
        var run = CliRunner.Run("cohort", "--model", model, "--patients", "2", "--mix", "NORMAL=1", "--out", unscreened, "--iod", "sc");
        Assert.True(run.ExitCode == 0, run.Stderr);
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(unscreened, "report.json")));
        Assert.False(json.RootElement.GetProperty("screen").GetProperty("screened").GetBoolean());
        Assert.False(json.RootElement.GetProperty("metrics").GetProperty("available").GetBoolean());
        Assert.Contains("Not screened", await File.ReadAllTextAsync(Path.Combine(unscreened, "report.html")), StringComparison.Ordinal);
        var scPath = Path.Combine(unscreened, Manifest(unscreened)[0]["file"]);
        var ds = (await DicomFile.OpenAsync(scPath)).Dataset;
        Assert.Equal(DicomUID.SecondaryCaptureImageStorage.UID, ds.GetString(DicomTag.SOPClassUID));
        Assert.Equal("YES", ds.GetString(DicomTag.SyntheticData));
        var scReport = Dciodvfy.Run(scPath);
        Assert.True(scReport.Errors.All(DciodvfyReport.IsToolGap), string.Join("\n", scReport.Errors));
        Assert.True(Dciodvfy.Run(Path.Combine(unscreened, "DICOMDIR")).Errors.Count == 0);

        // Bad settings are refused with the option's name.
        var bad = Path.Combine(_root, "bad");
        foreach (var (args, says) in new[]
                 {
                     (new[] { "--mix", "NORMAL=0.5,PNEUMONIA=0.4", "--out", bad }, "sum to 0.9"),
                     (["--mix", "NORMAL=0.5,EDEMA=0.5", "--out", bad], "no label 'EDEMA'"),
                     (["--mix", "NORMAL=1", "--out", unscreened], "is not empty"),
                     (["--mix", "NORMAL=1", "--out", bad, "--training-data", Path.Combine(_root, "missing.npy")], "no such file"),
                 })
        {
            var refusal = CliRunner.Run(["cohort", "--model", model, "--patients", "2", .. args]);
            Assert.Equal(2, refusal.ExitCode);
            Assert.Contains(says, refusal.Stderr, StringComparison.Ordinal);
        }
    }

    [ModelTrainingDataFact]
    public async Task With_the_training_data_the_model_card_names_the_cohort_is_screened_against_the_real_train_split_and_scored_on_its_test_split()
    {
        var output = Path.Combine(_root, "real");
        var run = CliRunner.Run("cohort", "--model", "medfusion-cxr", "--patients", "10", "--mix", "NORMAL=0.5,PNEUMONIA=0.5", "--out", output,
            "--classifier-steps", "50", "--require-screening", "--device", "cpu");
        Assert.True(run.ExitCode == 0, run.Stderr);
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(output, "report.json")));
        var screen = json.RootElement.GetProperty("screen");
        Assert.True(screen.GetProperty("screened").GetBoolean());
        var card = ModelLoader.LoadCard(DiffusionCommands.ResolveModel("medfusion-cxr"));
        using var train = new NpyImageSource(ModelTrainingDataFact.Path!, card.IntensityConvention, "train");
        Assert.Equal(train.Count, screen.GetProperty("trainingImages").GetInt32());
        // The demo model copies no training image: its nearest ones stay far below the default threshold.
        Assert.InRange(screen.GetProperty("maxNearestSsim").GetDouble(), 0, 0.9);
        var metrics = json.RootElement.GetProperty("metrics");
        Assert.True(metrics.GetProperty("available").GetBoolean());
        Assert.Equal(256, metrics.GetProperty("realTestImages").GetInt32());
    }

    private const int ClassifierSteps = 20;

    private static CliRunner.Result Cohort(string output, string training, int patients = 20, int images = 2, params string[] more) =>
        CliRunner.Run(["cohort", "--model", "medfusion-cxr", "--patients", patients.ToString(CultureInfo.InvariantCulture),
            "--mix", "NORMAL=0.3,PNEUMONIA=0.7", "--images-per-patient", images.ToString(CultureInfo.InvariantCulture), "--out", output,
            "--seed", "7", "--training-data", training, "--classifier-steps", ClassifierSteps.ToString(CultureInfo.InvariantCulture),
            "--date-range", "2001-01-01..2001-12-31", "--device", "cpu", .. more]);

    /// <summary>The manifest's rows by column name.</summary>
    private static List<Dictionary<string, string>> Manifest(string cohort)
    {
        var lines = File.ReadAllLines(Path.Combine(cohort, "manifest.csv"));
        var header = lines[0].Split(',');
        return lines.Skip(1).Select(l => header.Zip(l.Split(',')).ToDictionary(p => p.First, p => p.Second)).ToList();
    }

    /// <summary>Smooth made-up radiograph-like images (blobs on a gradient), 8-bit: the fixture's real images.</summary>
    private static List<byte[]> FixtureImages(int count)
    {
        var random = new Random(1234);
        var images = new List<byte[]>();
        for (var k = 0; k < count; k++)
        {
            var blobs = Enumerable.Range(0, 4).Select(_ => (x: random.NextDouble() * Size, y: random.NextDouble() * Size, s: 8 + random.NextDouble() * 30, a: random.NextDouble())).ToList();
            var image = new byte[Size * Size];
            for (var y = 0; y < Size; y++)
                for (var x = 0; x < Size; x++)
                {
                    var v = 0.2 + 0.3 * y / Size + blobs.Sum(b => b.a * Math.Exp(-((x - b.x) * (x - b.x) + (y - b.y) * (y - b.y)) / (2 * b.s * b.s)));
                    image[y * Size + x] = (byte)Math.Clamp(v * 200, 0, 255);
                }
            images.Add(image);
        }
        return images;
    }

    /// <summary>
    /// An .npy set with labels.csv: the fixture's images alternate NORMAL/PNEUMONIA, the first 28 train and the rest test;
    /// <paramref name="copies"/> are added to the train split under names that the validation hold-out does not take.
    /// </summary>
    private static string WriteTrainingSet(string folder, List<byte[]> fixture, List<byte[]> copies)
    {
        Directory.CreateDirectory(folder);
        var images = fixture.Concat(copies).ToList();
        var labels = new StringBuilder("index,split,label,source_file\n");
        for (var i = 0; i < fixture.Count; i++)
            labels.Append(CultureInfo.InvariantCulture, $"{i},{(i < 28 ? "train" : "test")},{(i % 2 == 0 ? "NORMAL" : "PNEUMONIA")},fixture-{i:D3}.png\n");
        var name = 0;
        for (var c = 0; c < copies.Count; c++)
        {
            while (IsValidation($"copy-{name}.png")) name++;
            labels.Append(CultureInfo.InvariantCulture, $"{fixture.Count + c},train,PNEUMONIA,copy-{name++}.png\n");
        }
        File.WriteAllText(Path.Combine(folder, "labels.csv"), labels.ToString());
        var path = Path.Combine(folder, "images.npy");
        var header = $"{{'descr': '|u1', 'fortran_order': False, 'shape': ({images.Count}, {Size}, {Size}), }}";
        header = header.PadRight(128 - 10 - 1) + "\n";
        using var fs = File.Create(path);
        fs.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)header.Length, 0]);
        fs.Write(Encoding.ASCII.GetBytes(header));
        foreach (var image in images) fs.Write(image);
        return path;
    }

    /// <summary>The cxr set's 5 % validation hold-out (CxrDataset: FNV-1a of the file name).</summary>
    private static bool IsValidation(string file)
    {
        var h = 2166136261u;
        foreach (var ch in file) h = (h ^ ch) * 16777619u;
        return h % 10000 < 500;
    }

    private static byte[] StoredBytes(string path)
    {
        var source = SourceImage.Open(DicomFile.Open(path).Dataset);
        return source.StoredValues(0).Select(v => (byte)v).ToArray();
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories)) Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            if (!file.EndsWith("train-state.safetensors", StringComparison.Ordinal)) File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
    }
}

/// <summary>A fact that skips, saying why, when the training data that medfusion-cxr's card names (../shared/data) is absent, as in a fresh clone.</summary>
public sealed class ModelTrainingDataFact : FactAttribute
{
    public static string? Path { get; } = ModelLoader.LoadCard(DiffusionCommands.ResolveModel("medfusion-cxr")).TrainingDataPath(DiffusionCommands.ResolveModel("medfusion-cxr")) is { } p && File.Exists(p) ? p : null;

    public ModelTrainingDataFact()
    {
        if (Path is null) Skip = "the training data medfusion-cxr's model card names (../shared/data/cxr-pneumonia/cxr128.npy) is absent; it is not part of a clone";
    }
}
