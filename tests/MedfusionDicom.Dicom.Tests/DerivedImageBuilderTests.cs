using System.Buffers.Binary;
using MedfusionDicom.Dicom.Derived;
using MedfusionDicom.Dicom.Tests.Fixtures;
using Xunit.Abstractions;

namespace MedfusionDicom.Dicom.Tests;

public class DerivedImageBuilderTests(ITestOutputHelper output)
{
    private static readonly DateTime When = DerivedCases.When;

    private static DerivedImageProcessing Denoising(params string[] seed) =>
        DerivedCases.Denoising with { SeriesNumber = 1001, UidSeed = seed.Length > 0 ? seed : null };

    /// <summary>The sources a derived image is checked on (the shared GE series has a test of its own, which skips without it).</summary>
    public static TheoryData<string> Sources() => new() { "corpus:MR_small.dcm", "corpus:CT_small.dcm", "fixture:DX", "fixture:CR" };

    [SharedDataFact]
    public void Denoised_shared_GE_MR_stays_in_its_iod_and_passes_dciodvfy() =>
        Denoised_image_stays_in_its_source_iod_and_passes_dciodvfy("shared:mr-ge-epi-64");

    /// <summary>The source dataset, and dciodvfy's report on it (the errors a derived image may inherit).</summary>
    private static (DicomDataset Source, DciodvfyReport Report) Load(string key)
    {
        var (kind, name) = (key[..key.IndexOf(':')], key[(key.IndexOf(':') + 1)..]);
        var path = kind switch
        {
            "corpus" => Path.Combine(DerivedFixtures.Corpus, name),
            "shared" => DerivedFixtures.SharedGeMr()!,
            _ => null,
        };
        if (path is null)
        {
            var xray = DerivedFixtures.XRay(dx: name == "DX");
            return (xray, Dciodvfy.Run(xray));
        }
        return (DicomFile.Open(path).Dataset, Dciodvfy.Run(path));
    }

    /// <summary>dciodvfy on the derived image: no error that its source does not already have. Warnings are printed.</summary>
    private void AssertValid(DerivedImage image, DciodvfyReport? sourceReport)
    {
        var report = Dciodvfy.Run(image.Dataset);
        foreach (var line in report.Warnings) output.WriteLine(line);
        foreach (var line in report.Errors) output.WriteLine(line);
        var excused = sourceReport ?? new DciodvfyReport([], []);
        foreach (var line in report.Errors.Intersect(excused.Errors)) output.WriteLine("(already in the source) " + line);
        foreach (var line in report.Errors.Where(DciodvfyReport.IsToolGap)) output.WriteLine("(dciodvfy predates the attribute) " + line);
        Assert.Empty(report.ErrorsNotIn(excused));
    }

    /// <summary>What every derived image says about its source and its making.</summary>
    private static void AssertDerivedFrom(DicomDataset source, DerivedImage image, string expectedPurpose = "109102")
    {
        var ds = image.Dataset;
        Assert.Equal(source.GetString(DicomTag.StudyInstanceUID), ds.GetString(DicomTag.StudyInstanceUID));
        Assert.Equal(source.GetString(DicomTag.PatientID), ds.GetString(DicomTag.PatientID));
        Assert.NotEqual(source.GetString(DicomTag.SeriesInstanceUID), image.SeriesInstanceUid);
        Assert.NotEqual(source.GetString(DicomTag.SOPInstanceUID), image.SopInstanceUid);
        Assert.True(DicomUID.IsValid(image.SopInstanceUid) && DicomUID.IsValid(image.SeriesInstanceUid));
        var type = ds.GetValues<string>(DicomTag.ImageType);
        Assert.Equal(["DERIVED", "SECONDARY"], type.Take(2));
        Assert.Equal(source.GetValues<string>(DicomTag.ImageType).Skip(2), type.Skip(2));
        Assert.Equal("Diffusion denoising (DDPM, 50 steps)", ds.GetString(DicomTag.DerivationDescription));
        Assert.Equal("113087", ds.GetSequence(DicomTag.DerivationCodeSequence).Items.Single().GetString(DicomTag.CodeValue));

        var reference = ds.GetSequence(DicomTag.SourceImageSequence).Items.Single();
        Assert.Equal(source.GetString(DicomTag.SOPInstanceUID), reference.GetString(DicomTag.ReferencedSOPInstanceUID));
        Assert.Equal(source.GetString(DicomTag.SOPClassUID), reference.GetString(DicomTag.ReferencedSOPClassUID));
        Assert.Equal("121322", reference.GetSequence(DicomTag.PurposeOfReferenceCodeSequence).Items.Single().GetString(DicomTag.CodeValue));

        var equipment = ds.GetSequence(DicomTag.ContributingEquipmentSequence).Items[^1];
        Assert.Equal(expectedPurpose, equipment.GetSequence(DicomTag.PurposeOfReferenceCodeSequence).Items.Single().GetString(DicomTag.CodeValue));
        Assert.Equal("medfusion-denoise", equipment.GetString(DicomTag.ManufacturerModelName));
        Assert.Equal(["1.2.0", "ddpm-mr-denoise-v3"], equipment.GetValues<string>(DicomTag.SoftwareVersions));
        Assert.Equal(When, equipment.GetSingleValue<DateTime>(DicomTag.ContributionDateTime));
        Assert.DoesNotContain(ds, i => i.Tag.IsPrivate);
    }

    [Theory]
    [MemberData(nameof(Sources))]
    public void Denoised_image_stays_in_its_source_iod_and_passes_dciodvfy(string key)
    {
        var (source, report) = Load(key);
        var image = new DerivedImageBuilder(Denoising("job-1")).Build(source, DerivedFixtures.SamePixels(source), 7);

        Assert.Null(image.SecondaryCaptureReason);
        Assert.Equal(source.GetString(DicomTag.SOPClassUID), image.SopClassUid);
        AssertDerivedFrom(source, image);
        Assert.Equal(7, image.Dataset.GetSingleValue<int>(DicomTag.InstanceNumber));
        Assert.Equal("YES", image.Dataset.GetSequence(DicomTag.SourceImageSequence).Items[0].GetString(DicomTag.SpatialLocationsPreserved));
        Assert.Equal("00", image.Dataset.GetString(DicomTag.LossyImageCompression));
        Assert.False(image.Dataset.Contains(DicomTag.SyntheticData));
        foreach (var tag in new[] { DicomTag.FrameOfReferenceUID, DicomTag.ImagePositionPatient, DicomTag.PixelSpacing, DicomTag.Manufacturer, DicomTag.RescaleSlope })
            Assert.Equal(source.GetStringOrDefault(tag), image.Dataset.GetStringOrDefault(tag));
        AssertValid(image, report);
    }

    [Fact]
    public void Super_resolution_halves_the_spacing_and_moves_the_first_pixel_centre()
    {
        var (source, report) = Load("corpus:MR_small.dcm");
        var image = new DerivedImageBuilder(Denoising("sr") with { DerivationCodes = [DicomCodes.SpatialResampling] })
            .Build(source, DerivedFixtures.Upsampled16(source), 1);
        var ds = image.Dataset;

        var spacing = source.GetValues<double>(DicomTag.PixelSpacing);
        Assert.Equal(spacing.Select(s => s / 2), ds.GetValues<double>(DicomTag.PixelSpacing), new ToleranceComparer(1e-9));
        // The field of view keeps its corner: the first centre moves a quarter of the old spacing along both axes.
        var o = source.GetValues<double>(DicomTag.ImageOrientationPatient);
        var p = source.GetValues<double>(DicomTag.ImagePositionPatient);
        var expected = Enumerable.Range(0, 3).Select(i => p[i] - spacing[1] / 4 * o[i] - spacing[0] / 4 * o[i + 3]);
        Assert.Equal(expected, ds.GetValues<double>(DicomTag.ImagePositionPatient), new ToleranceComparer(1e-4));
        Assert.Equal(2 * source.GetSingleValue<int>(DicomTag.Rows), ds.GetSingleValue<int>(DicomTag.Rows));
        Assert.Equal("NO", ds.GetSequence(DicomTag.SourceImageSequence).Items[0].GetString(DicomTag.SpatialLocationsPreserved));
        Assert.Equal("113085", ds.GetSequence(DicomTag.DerivationCodeSequence).Items[0].GetString(DicomTag.CodeValue));
        AssertValid(image, report);
    }

    [Fact]
    public void Eight_bit_output_of_a_ct_falls_back_to_secondary_capture()
    {
        var (source, report) = Load("corpus:CT_small.dcm");
        int rows = source.GetSingleValue<int>(DicomTag.Rows), columns = source.GetSingleValue<int>(DicomTag.Columns);
        var pixels = new DerivedPixelData(rows, columns, 1, "MONOCHROME2", 8, 8, 7, 0, new byte[rows * columns])
        {
            RescaleSlope = 8, RescaleIntercept = -1024, RescaleType = "HU", WindowCenter = [40], WindowWidth = [400],
        };
        var image = new DerivedImageBuilder(Denoising()).Build(source, pixels, 1);

        Assert.Equal("1.2.840.10008.5.1.4.1.1.7", image.SopClassUid);
        Assert.Contains("Bits Allocated 16", image.SecondaryCaptureReason);
        Assert.Equal("WSD", image.Dataset.GetString(DicomTag.ConversionType));
        Assert.Equal("CT", image.Dataset.GetString(DicomTag.Modality));
        // SC has no Image Plane module: the axial plane (rows to the left, columns to the back) is said in letters.
        Assert.Equal(["L", "P"], image.Dataset.GetValues<string>(DicomTag.PatientOrientation));
        Assert.Equal(-1024, image.Dataset.GetSingleValue<double>(DicomTag.RescaleIntercept));
        Assert.Equal(DicomVR.OB, image.Dataset[DicomTag.PixelData]!.ValueRepresentation);
        AssertDerivedFrom(source, image);
        AssertValid(image, report);
    }

    [Fact]
    public void Ct_pixels_with_their_own_rescale_replace_the_sources()
    {
        var (source, report) = Load("corpus:CT_small.dcm");
        var pixels = DerivedFixtures.SamePixels(source) with { RescaleSlope = 0.5, RescaleIntercept = -1000, RescaleType = "HU" };
        var image = new DerivedImageBuilder(Denoising()).Build(source, pixels, 1);
        Assert.Equal(0.5, image.Dataset.GetSingleValue<double>(DicomTag.RescaleSlope));
        Assert.Equal(-1000, image.Dataset.GetSingleValue<double>(DicomTag.RescaleIntercept));
        AssertValid(image, report);

        // Without a rescale in the source or the new pixels, Hounsfield units are unknown: refused, not guessed.
        source.Remove(DicomTag.RescaleSlope);
        source.Remove(DicomTag.RescaleIntercept);
        Assert.Throws<DicomValueException>(() => new DerivedImageBuilder(Denoising()).Build(source, DerivedFixtures.SamePixels(source), 1));
    }

    [Fact]
    public void Dx_output_gets_a_window_over_its_range_when_none_is_given()
    {
        var source = DerivedFixtures.XRay(dx: true);
        source.Remove(DicomTag.WindowCenter);
        source.Remove(DicomTag.WindowWidth);
        var data = new byte[64 * 64 * 2];
        for (var i = 0; i < 64 * 64; i++) BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(i * 2), (ushort)(100 + i % 900));
        var image = new DerivedImageBuilder(Denoising()).Build(source, new DerivedPixelData(64, 64, 1, "MONOCHROME2", 16, 12, 11, 0, data), 1);
        Assert.Equal(549.5, image.Dataset.GetSingleValue<double>(DicomTag.WindowCenter));
        Assert.Equal(900, image.Dataset.GetSingleValue<double>(DicomTag.WindowWidth));
        AssertValid(image, null);
    }

    [Fact]
    public void A_compressed_source_gives_a_native_instance()
    {
        // The JPEG-LS file holds MR_small's image; the denoiser's output arrives native, as always.
        var compressedPath = Path.Combine(DerivedFixtures.Corpus, "MR_small_jpeg_ls_lossless.dcm");
        var compressed = DicomFile.Open(compressedPath).Dataset;
        var pixels = DerivedFixtures.SamePixels(Load("corpus:MR_small.dcm").Source);
        var image = new DerivedImageBuilder(Denoising()).Build(compressed, pixels, 1);

        Assert.Equal(DicomTransferSyntax.ExplicitVRLittleEndian, image.Dataset.InternalTransferSyntax);
        Assert.IsType<DicomElement>(image.Dataset[DicomTag.PixelData]);
        Assert.Equal("00", image.Dataset.GetString(DicomTag.LossyImageCompression));
        AssertValid(image, Dciodvfy.Run(compressedPath));
    }

    [Fact]
    public void Lossy_compression_and_earlier_contributors_are_carried_forward()
    {
        var (source, report) = Load("corpus:MR_small.dcm");
        source.AddOrUpdate(DicomTag.LossyImageCompression, "01");
        source.AddOrUpdate(DicomTag.LossyImageCompressionRatio, 8.5);
        source.AddOrUpdate(DicomTag.LossyImageCompressionMethod, "ISO_10918_1");
        var earlier = new DicomDataset()
            .AddOrUpdate(DicomTag.PurposeOfReferenceCodeSequence, new DicomCodedEntry("109104", "DCM", "De-identifying Equipment").ToItem())
            .AddOrUpdate(DicomTag.Manufacturer, "Anonymizer");
        source.AddOrUpdate(DicomTag.ContributingEquipmentSequence, earlier);
        source.AddOrUpdate(DicomTag.SyntheticData, "YES");

        var image = new DerivedImageBuilder(Denoising()).Build(source, DerivedFixtures.SamePixels(source), 1);
        var ds = image.Dataset;
        Assert.Equal("01", ds.GetString(DicomTag.LossyImageCompression));
        Assert.Equal(8.5, ds.GetSingleValue<double>(DicomTag.LossyImageCompressionRatio));
        Assert.Equal("ISO_10918_1", ds.GetString(DicomTag.LossyImageCompressionMethod));
        var contributors = ds.GetSequence(DicomTag.ContributingEquipmentSequence).Items;
        Assert.Equal(["Anonymizer", "MedfusionDicom"], contributors.Select(c => c.GetString(DicomTag.Manufacturer)));
        // Denoising a synthetic image gives synthetic data, made by processing (not synthesizing) equipment.
        Assert.Equal("YES", ds.GetString(DicomTag.SyntheticData));
        AssertDerivedFrom(source, image, expectedPurpose: "109102");
        AssertValid(image, report);
    }

    [Theory]
    [InlineData(1, "MONOCHROME2", 8)]
    [InlineData(1, "MONOCHROME2", 16)]
    [InlineData(3, "RGB", 8)]
    public void Synthetic_secondary_capture_is_deidentified_and_valid(int samples, string photometric, int bits)
    {
        const int rows = 32, columns = 48;
        var processing = new DerivedImageProcessing
        {
            DerivationDescription = "Class-conditional diffusion sample, class 3, guidance 2.0",
            AlgorithmName = "medfusion-synthesize",
            AlgorithmVersion = "0.9",
            ModelName = "ddpm-cond",
            SeriesDescription = "Synthetic class 3",
            IsSynthetic = true,
            UidSeed = ["job-42"],
            ProcessingTime = When,
        };
        var data = new byte[rows * columns * samples * bits / 8];
        new Random(5).NextBytes(data);
        if (bits == 16) for (var i = 1; i < data.Length; i += 2) data[i] &= 0x0F;
        var pixels = new DerivedPixelData(rows, columns, samples, photometric, bits, bits == 16 ? 12 : 8, bits == 16 ? 11 : 7, 0, data);
        var image = new DerivedImageBuilder(processing).Build(null, pixels, 3);
        var ds = image.Dataset;

        Assert.Equal("1.2.840.10008.5.1.4.1.1.7", image.SopClassUid);
        Assert.Equal("YES", ds.GetString(DicomTag.SyntheticData));
        Assert.Equal("YES", ds.GetString(DicomTag.PatientIdentityRemoved));
        Assert.Equal("SYN", ds.GetString(DicomTag.ConversionType));
        Assert.StartsWith("SYNTHETIC^", ds.GetString(DicomTag.PatientName), StringComparison.Ordinal);
        Assert.False(ds.Contains(DicomTag.SourceImageSequence));
        var equipment = ds.GetSequence(DicomTag.ContributingEquipmentSequence).Items.Single();
        Assert.Equal("109100", equipment.GetSequence(DicomTag.PurposeOfReferenceCodeSequence).Items.Single().GetString(DicomTag.CodeValue));
        // The study is new and, with a seed, the same on a retry.
        var again = new DerivedImageBuilder(processing).Build(null, pixels, 3).Dataset;
        Assert.Equal(ds.GetString(DicomTag.StudyInstanceUID), again.GetString(DicomTag.StudyInstanceUID));
        Assert.Equal(ds.GetString(DicomTag.PatientID), again.GetString(DicomTag.PatientID));
        AssertValid(image, null);
    }

    [Fact]
    public void Non_ascii_texts_declare_utf8()
    {
        var processing = Denoising() with { SeriesDescription = "Débruité", DerivationDescription = "Entrauscht – DDPM" };
        var image = new DerivedImageBuilder(processing).Build(null, new DerivedPixelData(4, 4, 1, "MONOCHROME2", 8, 8, 7, 0, new byte[16]), 1);
        var path = Path.Combine(Path.GetTempPath(), "medfusion-derived-" + Guid.NewGuid().ToString("N") + ".dcm");
        image.ToFile().Save(path);
        var reread = DicomFile.Open(File.ReadAllBytes(path)).Dataset;
        File.Delete(path);
        Assert.Equal("ISO_IR 192", reread.GetString(DicomTag.SpecificCharacterSet));
        Assert.Equal("Débruité", reread.GetString(DicomTag.SeriesDescription));
        Assert.Equal("Entrauscht – DDPM", reread.GetSequence(DicomTag.ContributingEquipmentSequence).Items[0].GetString(DicomTag.ContributionDescription));
    }

    [Fact]
    public void Seeded_uids_repeat_on_a_retry_and_differ_between_images_and_jobs()
    {
        var (source, _) = Load("corpus:MR_small.dcm");
        var pixels = DerivedFixtures.SamePixels(source);
        var first = new DerivedImageBuilder(Denoising("job-1", "attempt-independent")).Build(source, pixels, 1);
        var retry = new DerivedImageBuilder(Denoising("job-1", "attempt-independent")).Build(source, pixels, 1);
        var next = new DerivedImageBuilder(Denoising("job-1", "attempt-independent")).Build(source, pixels, 2);
        var otherJob = new DerivedImageBuilder(Denoising("job-2", "attempt-independent")).Build(source, pixels, 1);
        var unseeded = new[] { new DerivedImageBuilder(Denoising()).Build(source, pixels, 1), new DerivedImageBuilder(Denoising()).Build(source, pixels, 1) };

        Assert.Equal(first.SopInstanceUid, retry.SopInstanceUid);
        Assert.Equal(first.SeriesInstanceUid, retry.SeriesInstanceUid);
        Assert.Equal(first.SeriesInstanceUid, next.SeriesInstanceUid);
        Assert.NotEqual(first.SopInstanceUid, next.SopInstanceUid);
        Assert.NotEqual(first.SeriesInstanceUid, otherJob.SeriesInstanceUid);
        Assert.NotEqual(first.SopInstanceUid, otherJob.SopInstanceUid);
        Assert.NotEqual(unseeded[0].SopInstanceUid, unseeded[1].SopInstanceUid);
        Assert.NotEqual(unseeded[0].SeriesInstanceUid, unseeded[1].SeriesInstanceUid);
    }

    [Fact]
    public void Pixel_data_that_disagrees_with_its_description_is_refused()
    {
        var (source, _) = Load("corpus:MR_small.dcm");
        var builder = new DerivedImageBuilder(Denoising());
        var good = DerivedFixtures.SamePixels(source);
        Assert.Throws<DicomValueException>(() => builder.Build(source, good with { Data = good.Data[..^2] }, 1));
        Assert.Throws<DicomValueException>(() => builder.Build(source, good with { HighBit = good.BitsStored }, 1));
        Assert.Throws<DicomValueException>(() => builder.Build(source, good with { WindowCenter = [1.0] }, 1));
        Assert.Throws<DicomValueException>(() => new DerivedImageBuilder(Denoising() with { SeriesDescription = new string('x', 65) }));
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(double obj) => 0;
    }
}
