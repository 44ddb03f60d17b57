using System.Buffers.Binary;
using System.Diagnostics;
using MedfusionDicom.Dicom.Derived;
using MedfusionDicom.Dicom.Tests.Fixtures;
using Xunit.Abstractions;

namespace MedfusionDicom.Dicom.Tests;

/// <summary>Source images for the builder's tests: the pydicom corpus, the shared MR series when present, and made-up X-rays.</summary>
internal static class DerivedFixtures
{
    public const string Corpus = "/usr/lib/python3/dist-packages/pydicom/data/test_files";

    /// <summary>The repository root (where MedfusionDicom.sln is), found from the test assembly's folder.</summary>
    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "MedfusionDicom.sln"))) return dir.FullName;
            throw new InvalidOperationException("MedfusionDicom.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>The first image of the shared GE EPI series (../shared/data), or null on a machine without shared data.</summary>
    public static string? SharedGeMr()
    {
        var dir = Path.Combine(RepoRoot, "..", "shared", "data", "dicom", "mr-ge-epi-64");
        return Directory.Exists(dir) ? Directory.GetFiles(dir, "*.dcm").Order(StringComparer.Ordinal).FirstOrDefault() : null;
    }

    /// <summary>The source's own pixels, as a builder input with the same description (what a denoiser that keeps the encoding gives).</summary>
    public static DerivedPixelData SamePixels(DicomDataset source, Func<byte[], byte[]>? transform = null)
    {
        var bytes = ((DicomElement)source[DicomTag.PixelData]!).Buffer.Memory.ToArray();
        return Describe(source, source.GetSingleValue<int>(DicomTag.Rows), source.GetSingleValue<int>(DicomTag.Columns), transform?.Invoke(bytes) ?? bytes);
    }

    /// <summary>Twice the rows and columns, each 16-bit source pixel repeated 2 x 2 (a stand-in for super-resolution).</summary>
    public static DerivedPixelData Upsampled16(DicomDataset source)
    {
        int rows = source.GetSingleValue<int>(DicomTag.Rows), columns = source.GetSingleValue<int>(DicomTag.Columns);
        var src = ((DicomElement)source[DicomTag.PixelData]!).Buffer.Memory.Span;
        var dst = new byte[rows * columns * 8];
        for (var r = 0; r < rows * 2; r++)
            for (var c = 0; c < columns * 2; c++)
                src.Slice(((r / 2) * columns + c / 2) * 2, 2).CopyTo(dst.AsSpan((r * columns * 2 + c) * 2));
        return Describe(source, rows * 2, columns * 2, dst);
    }

    private static DerivedPixelData Describe(DicomDataset s, int rows, int columns, byte[] data) => new(
        rows, columns, s.GetSingleValue<int>(DicomTag.SamplesPerPixel), s.GetString(DicomTag.PhotometricInterpretation),
        s.GetSingleValue<int>(DicomTag.BitsAllocated), s.GetSingleValue<int>(DicomTag.BitsStored),
        s.GetSingleValue<int>(DicomTag.HighBit), s.GetSingleValue<int>(DicomTag.PixelRepresentation), data);

    /// <summary>
    /// New pixels for a multi-frame source: a frame for each of its frames, every one different
    /// (<see cref="MultiFrameFixtures.FramePixels"/>), <paramref name="scale"/> times its rows and columns.
    /// </summary>
    public static DerivedPixelData Frames(DicomDataset source, int bitsAllocated, int bitsStored, int scale = 1, int samples = 1)
    {
        var frames = source.GetSingleValue<int>(DicomTag.NumberOfFrames);
        int rows = source.GetSingleValue<int>(DicomTag.Rows) * scale, columns = source.GetSingleValue<int>(DicomTag.Columns) * scale;
        var data = MultiFrameFixtures.FramePixels(frames, rows, columns * samples, bitsAllocated / 8, bitsStored);
        return new DerivedPixelData(rows, columns, samples, samples == 3 ? "RGB" : "MONOCHROME2", bitsAllocated, bitsStored, bitsStored - 1, 0, data, frames);
    }

    /// <summary>A 16-bit ramp of <paramref name="rows"/> x <paramref name="columns"/> stored values below 2^12.</summary>
    public static byte[] Ramp16(int rows, int columns)
    {
        var data = new byte[rows * columns * 2];
        for (var i = 0; i < rows * columns; i++) BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(i * 2), (ushort)(i * 37 % 4096));
        return data;
    }

    /// <summary>The fixture X-ray of <see cref="XRayFixtures.XRay"/> with a 12-bit ramp as its pixels.</summary>
    public static DicomDataset XRay(bool dx) => XRayFixtures.XRay(dx, 64, Ramp16(64, 64));
}

/// <summary>The derived and synthetic images checked with dciodvfy, by name: one for each kind of source and output IOD.</summary>
internal static class DerivedCases
{
    public static readonly DateTime When = new(2025, 3, 4, 5, 6, 7);

    public static DerivedImageProcessing Denoising { get; } = new()
    {
        DerivationDescription = "Diffusion denoising (DDPM, 50 steps)",
        DerivationCodes = [DicomCodes.Smoothing],
        AlgorithmName = "medfusion-denoise",
        AlgorithmVersion = "1.2.0",
        ModelName = "ddpm-mr-denoise-v3",
        SeriesDescription = "Denoised",
        UidSeed = ["cases"],
        ProcessingTime = When,
    };

    public static DerivedImageProcessing SuperResolution { get; } = Denoising with
    {
        DerivationDescription = "Diffusion super-resolution, 2x",
        DerivationCodes = [DicomCodes.SpatialResampling],
        SeriesDescription = "Super-resolved",
    };

    public static DerivedImageProcessing Synthesis { get; } = Denoising with
    {
        DerivationDescription = "Class-conditional diffusion sample",
        DerivationCodes = [],
        SeriesDescription = "Synthetic",
        IsSynthetic = true,
    };

    public static IEnumerable<string> Names => Cases.Keys;

    /// <summary>A synthetic cohort's patient, as the cohort builder files one: a chest radiograph of a made-up patient.</summary>
    public static SyntheticSubject CohortPatient(SyntheticIod iod) => new()
    {
        PatientId = "P3F2A19C04B7E",
        PatientName = "SYNTHETIC^P3F2A19C04B7E",
        StudyInstanceUid = DicomUID.FromName("cohort test", "study").UID,
        StudyDateTime = new DateTime(2001, 3, 4, 10, 20, 30),
        StudyId = "1",
        AccessionNumber = "SYN0001",
        StudyDescription = "Synthetic chest radiographs",
        Iod = iod,
        BodyPartExamined = "CHEST",
        AnatomicRegion = DicomCodes.Chest,
        ViewPosition = "AP",
        PatientOrientation = ["L", "F"],
        ImagerPixelSpacingMm = 1.4,
        DeidentificationMethod = "Synthetic: generated by a diffusion model, no patient's data",
    };

    public static DerivedImage Build(string name) => Cases[name]();

    public static DicomDataset Corpus(string name) => DicomFile.Open(Path.Combine(DerivedFixtures.Corpus, name)).Dataset;

    private static DerivedImage Derive(DicomDataset source, DerivedPixelData pixels, DerivedImageProcessing? processing = null) =>
        new DerivedImageBuilder(processing ?? Denoising).Build(source, pixels, 1);

    private static DerivedImage Same(DicomDataset source) => Derive(source, DerivedFixtures.SamePixels(source));

    private static DicomDataset With(DicomDataset ds, Action<DicomDataset> change)
    {
        change(ds);
        return ds;
    }

    private static readonly Dictionary<string, Func<DerivedImage>> Cases = new(StringComparer.Ordinal)
    {
        ["MR"] = () => Same(Corpus("MR_small.dcm")),
        // A vendor's empty Laterality on an unpaired part (an error of the source), and none on a paired one.
        ["MR, heart with empty Laterality"] = () => Same(With(Corpus("MR_small.dcm"), d => d.AddOrUpdate(DicomTag.BodyPartExamined, "HEART"))),
        ["MR, knee without Laterality"] = () => Same(With(Corpus("MR_small.dcm"), d =>
        {
            d.AddOrUpdate(DicomTag.BodyPartExamined, "KNEE");
            d.Remove(DicomTag.Laterality);
        })),
        ["MR super-resolved"] = () => Derive(Corpus("MR_small.dcm"), DerivedFixtures.Upsampled16(Corpus("MR_small.dcm")), SuperResolution),
        ["CT"] = () => Same(Corpus("CT_small.dcm")),
        ["CR"] = () => Same(DerivedFixtures.XRay(dx: false)),
        ["DX"] = () => Same(DerivedFixtures.XRay(dx: true)),
        ["SC from 8-bit CT"] = () =>
        {
            var source = Corpus("CT_small.dcm");
            int rows = source.GetSingleValue<int>(DicomTag.Rows), columns = source.GetSingleValue<int>(DicomTag.Columns);
            return Derive(source, new DerivedPixelData(rows, columns, 1, "MONOCHROME2", 8, 8, 7, 0, new byte[rows * columns]) { RescaleSlope = 8, RescaleIntercept = -1024 });
        },
        ["SC, RGB from DX"] = () => Derive(DerivedFixtures.XRay(dx: true), new DerivedPixelData(64, 64, 3, "RGB", 8, 8, 7, 0, new byte[64 * 64 * 3])),
        ["multi-frame Byte SC from 16-frame MR"] = () => Derive(MultiFrameFixtures.HeartMr(), DerivedFixtures.Frames(MultiFrameFixtures.HeartMr(), 8, 8)),
        ["multi-frame Word SC from 16-frame MR"] = () => Derive(MultiFrameFixtures.HeartMr(), DerivedFixtures.Frames(MultiFrameFixtures.HeartMr(), 16, 12) with { RescaleSlope = 2, RescaleIntercept = -100 }),
        ["multi-frame True Color SC from 16-frame MR"] = () => Derive(MultiFrameFixtures.HeartMr(), DerivedFixtures.Frames(MultiFrameFixtures.HeartMr(), 8, 8, samples: 3)),
        ["multi-frame Byte SC from 96-frame XA"] = () => Derive(MultiFrameFixtures.AngioXa(), DerivedFixtures.Frames(MultiFrameFixtures.AngioXa(), 8, 8)),
        ["multi-frame Word SC from 96-frame XA"] = () => Derive(MultiFrameFixtures.AngioXa(), DerivedFixtures.Frames(MultiFrameFixtures.AngioXa(), 16, 10)),
        ["multi-frame Word SC from 96-frame XA, super-resolved"] = () => Derive(MultiFrameFixtures.AngioXa(), DerivedFixtures.Frames(MultiFrameFixtures.AngioXa(), 16, 12, scale: 2), SuperResolution),
        ["multi-frame Byte SC from 16-frame MR, super-resolved"] = () => Derive(MultiFrameFixtures.HeartMr(), DerivedFixtures.Frames(MultiFrameFixtures.HeartMr(), 8, 8, scale: 2), SuperResolution),
        // Image Laterality and Laterality both (an error of the source): Image Laterality says the side.
        ["multi-frame SC from XA with both lateralities"] = () => Derive(
            With(MultiFrameFixtures.AngioXa(), d => d.AddOrUpdate(DicomTag.BodyPartExamined, "ARM").AddOrUpdate(DicomTag.ImageLaterality, "L").AddOrUpdate(DicomTag.Laterality, "L")),
            DerivedFixtures.Frames(MultiFrameFixtures.AngioXa(), 8, 8)),
        ["Enhanced MR"] = () => Derive(MultiFrameFixtures.EnhancedMr(), DerivedFixtures.Frames(MultiFrameFixtures.EnhancedMr(), 16, 12)),
        ["Enhanced MR super-resolved, new rescale and window"] = () => Derive(MultiFrameFixtures.EnhancedMr(),
            DerivedFixtures.Frames(MultiFrameFixtures.EnhancedMr(), 16, 12, scale: 2) with { RescaleSlope = 0.5, RescaleIntercept = 0, WindowCenter = [500], WindowWidth = [1000] },
            SuperResolution),
        ["synthetic SC with rescale"] = () => new DerivedImageBuilder(Synthesis).Build(null,
            new DerivedPixelData(32, 32, 1, "MONOCHROME2", 16, 12, 11, 0, new byte[32 * 32 * 2]) { RescaleSlope = 2, RescaleIntercept = -1000 }, 1),
        ["synthetic multi-frame Byte SC"] = () => new DerivedImageBuilder(Synthesis).Build(null,
            new DerivedPixelData(32, 32, 1, "MONOCHROME2", 8, 8, 7, 0, MultiFrameFixtures.FramePixels(4, 32, 32, 1, 8), 4), 1),
        ["synthetic multi-frame True Color SC"] = () => new DerivedImageBuilder(Synthesis).Build(null,
            new DerivedPixelData(32, 32, 3, "RGB", 8, 8, 7, 0, MultiFrameFixtures.FramePixels(4, 32, 96, 1, 8), 4), 1),
        ["synthetic DX of a cohort patient"] = () => new DerivedImageBuilder(Synthesis).BuildSynthetic(CohortPatient(SyntheticIod.DigitalXRay),
            new DerivedPixelData(32, 32, 1, "MONOCHROME2", 8, 8, 7, 0, MultiFrameFixtures.FramePixels(1, 32, 32, 1, 8)) { RescaleSlope = 1, RescaleIntercept = 0, RescaleType = "US" }, 1),
        ["synthetic SC of a cohort patient"] = () => new DerivedImageBuilder(Synthesis).BuildSynthetic(CohortPatient(SyntheticIod.SecondaryCapture),
            new DerivedPixelData(32, 32, 1, "MONOCHROME2", 8, 8, 7, 0, MultiFrameFixtures.FramePixels(1, 32, 32, 1, 8)) { RescaleSlope = 1, RescaleIntercept = 0, RescaleType = "US" }, 1),
    };
}

/// <summary>The checks the builder's tests rely on: dciodvfy finds errors where there are some, and our sources' own state.</summary>
public class DerivedDciodvfyTests(ITestOutputHelper output)
{
    [Fact]
    public void Dciodvfy_reports_errors_in_an_incomplete_mr_image()
    {
        // Proof that "no Error lines" means something: an MR image without its MR Image module fails.
        var source = DicomFile.Open(Path.Combine(DerivedFixtures.Corpus, "MR_small.dcm")).Dataset;
        source.Remove(DicomTag.ScanningSequence);
        source.Remove(DicomTag.StudyInstanceUID);
        var report = Dciodvfy.Run(source);
        Assert.Contains(report.Errors, e => e.Contains("ScanningSequence", StringComparison.Ordinal));
        Assert.Contains(report.Errors, e => e.Contains("StudyInstanceUID", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Made_up_xray_sources_are_valid(bool dx)
    {
        var report = Dciodvfy.Run(DerivedFixtures.XRay(dx));
        foreach (var w in report.Warnings) output.WriteLine(w);
        Assert.Empty(report.Errors);
    }

    [Fact]
    public void Multi_frame_fixture_sources_have_only_the_errors_their_documentation_names()
    {
        foreach (var (name, source) in new[] { ("XA", MultiFrameFixtures.AngioXa()), ("Enhanced MR", MultiFrameFixtures.EnhancedMr()) })
        {
            var report = Dciodvfy.Run(source);
            foreach (var line in report.Warnings.Concat(report.Errors)) output.WriteLine($"{name}: {line}");
            Assert.Empty(report.Errors);
        }
        // The legacy 16-frame MR is what old scanners wrote: 8 bits and frames, which the MR Image IOD does not allow.
        var heart = Dciodvfy.Run(MultiFrameFixtures.HeartMr());
        Assert.Collection(heart.Errors.Order(StringComparer.Ordinal),
            e => Assert.Contains("<Number of Frames>", e, StringComparison.Ordinal),
            e => Assert.Contains("<Bits Allocated>", e, StringComparison.Ordinal));
    }

    public static TheoryData<string> DerivedCaseNames() => [.. DerivedCases.Names];

    /// <summary>
    /// Every kind of derived or synthetic output is valid in its IOD: no dciodvfy error at all (not even one its source
    /// has: the cases with a flawed source check that the builder puts it right) but the tool's own gap.
    /// </summary>
    [Theory]
    [MemberData(nameof(DerivedCaseNames))]
    public void Derived_output_has_no_dciodvfy_error(string name)
    {
        var image = DerivedCases.Build(name);
        var report = Dciodvfy.Run(image.Dataset);
        output.WriteLine($"{name}: {image.SopClassUid} ({DicomUID.Lookup(image.SopClassUid).Name}); {image.SecondaryCaptureReason}");
        foreach (var line in report.Warnings) output.WriteLine(line);
        foreach (var line in report.Errors) output.WriteLine(line);
        Assert.DoesNotContain(report.Errors, e => !DciodvfyReport.IsToolGap(e));
    }

    [Theory]
    [InlineData("MR_small.dcm")]
    [InlineData("CT_small.dcm")]
    public void Corpus_sources_are_valid(string name)
    {
        // The corpus files the tests derive from have no errors of their own, so none is excused for them.
        var report = Dciodvfy.Run(Path.Combine(DerivedFixtures.Corpus, name));
        foreach (var w in report.Warnings) output.WriteLine(w);
        Assert.Empty(report.Errors);
    }
}
