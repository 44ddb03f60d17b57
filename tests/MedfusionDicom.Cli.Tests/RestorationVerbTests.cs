using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Imaging;

namespace MedfusionDicom.Cli.Tests;

/// <summary>The restoration verbs end to end with the bundled models: what they write, not how good it is.</summary>
public class RestorationVerbTests
{
    private static readonly string CtSmall = Path.Combine(CliRunner.Corpus, "CT_small.dcm"); // 128x128, signed 16 bit, intercept -1024

    private static string Temp(string name) => Path.Combine(Directory.CreateTempSubdirectory("restore").FullName, name);

    [Fact]
    public void Inpaint_changes_only_the_box_and_keeps_the_source_encoding_bit_for_bit()
    {
        var output = Temp("inpainted.dcm");
        var r = CliRunner.Run("inpaint", CtSmall, output, "--model", "cdiff-cxr-inpaint", "--mask-box", "40,30,24,20", "--steps", "2", "--seed", "3");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var source = DicomFile.Open(CtSmall).Dataset;
        var result = DicomFile.Open(output).Dataset;
        foreach (var tag in new[] { DicomTag.BitsAllocated, DicomTag.BitsStored, DicomTag.PixelRepresentation, DicomTag.RescaleSlope, DicomTag.RescaleIntercept })
            Assert.Equal(source.GetString(tag), result.GetString(tag));
        Assert.Equal(source.GetString(DicomTag.StudyInstanceUID), result.GetString(DicomTag.StudyInstanceUID));
        Assert.NotEqual(source.GetString(DicomTag.SeriesInstanceUID), result.GetString(DicomTag.SeriesInstanceUID));
        var before = DicomPixelData.Create(source).GetNativeFrame(0).Data.ToArray();
        var after = DicomPixelData.Create(result).GetNativeFrame(0).Data.ToArray();
        Assert.Equal(before.Length, after.Length);
        int changedInside = 0;
        for (int y = 0; y < 128; y++)
        for (int x = 0; x < 128; x++)
        {
            int i = 2 * (y * 128 + x);
            bool inside = x is >= 40 and < 64 && y is >= 30 and < 50;
            bool same = before[i] == after[i] && before[i + 1] == after[i + 1];
            if (!inside) Assert.True(same, $"pixel ({x}, {y}) outside the box changed");
            else if (!same) changedInside++;
        }
        Assert.True(changedInside > 24 * 20 / 2, $"only {changedInside} of the box's pixels changed");
    }

    [Fact]
    public void Denoise_writes_a_derived_image_in_the_source_scale()
    {
        var output = Temp("denoised.dcm");
        var r = CliRunner.Run("denoise", CtSmall, output, "--model", "cdiff-cxr-denoise", "--steps", "2");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var source = DicomFile.Open(CtSmall).Dataset;
        var result = DicomFile.Open(output).Dataset;
        Assert.Equal(source.GetString(DicomTag.RescaleIntercept), result.GetString(DicomTag.RescaleIntercept));
        Assert.Equal(source.GetString(DicomTag.BitsStored), result.GetString(DicomTag.BitsStored));
        Assert.StartsWith("DERIVED", result.GetString(DicomTag.ImageType));
        // The bundled models scale images by the range their encoding holds (16 bits signed here, as 0..255 was for
        // their 8-bit training images), so a CT is far from their domain: only the encoding and the change are checked.
        var a = DicomPixelData.Create(source).ToFloat32(0).Data;
        var b = DicomPixelData.Create(result).ToFloat32(0).Data;
        Assert.True(a.Zip(b).Count(p => p.First != p.Second) > a.Length / 4);
    }
}

/// <summary>What the verbs write for multi-frame sources and generated images, checked by dciodvfy.</summary>
public class MultiFrameVerbTests
{
    private static string Temp(string name) => Path.Combine(Directory.CreateTempSubdirectory("verbs").FullName, name);

    private static void AssertValid(string path)
    {
        var report = MedfusionDicom.Dicom.Tests.Fixtures.Dciodvfy.Run(path);
        Assert.True(report.Errors.All(MedfusionDicom.Dicom.Tests.Fixtures.DciodvfyReport.IsToolGap), string.Join("\n", report.Errors));
    }

    [Theory]
    [InlineData("mr", 16)]
    [InlineData("xa", 96)]
    public void Denoise_processes_every_frame_into_one_derived_instance(string kind, int frames)
    {
        var fixture = kind == "mr" ? MedfusionDicom.Dicom.Tests.Fixtures.MultiFrameFixtures.HeartMr() : MedfusionDicom.Dicom.Tests.Fixtures.MultiFrameFixtures.AngioXa();
        var input = Temp($"{kind}.dcm");
        new DicomFile(fixture).Save(input);
        var output = Temp($"{kind}-denoised.dcm");
        var r = CliRunner.Run("denoise", input, output, "--model", "cdiff-cxr-denoise", "--steps", "2", "--batch-size", "8");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var source = DicomPixelData.Create(fixture);
        var result = DicomPixelData.Create(DicomFile.Open(output).Dataset);
        Assert.Equal(frames, result.NumberOfFrames);
        for (var k = 0; k < frames; k++) Assert.NotEqual(source.GetFrame(k).ToArray(), result.GetFrame(k).ToArray());
        AssertValid(output);
    }

    [Fact]
    public void Sample_writes_synthetic_secondary_capture_that_dciodvfy_accepts()
    {
        var dir = Directory.CreateTempSubdirectory("sample").FullName;
        var r = CliRunner.Run("sample", "--model", "medfusion-cxr", "--label", "NORMAL", "--count", "1", "--steps", "2", "--out", dir);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var file = Assert.Single(Directory.GetFiles(dir, "*.dcm"));
        var ds = DicomFile.Open(file).Dataset;
        Assert.Equal("YES", ds.GetString(DicomTag.SyntheticData));
        Assert.Equal("US", ds.GetString(DicomTag.RescaleType));
        AssertValid(file);
    }

    [Fact]
    public void Colour_input_is_refused_with_a_message_naming_the_photometric_interpretation()
    {
        var r = CliRunner.Run("denoise", Path.Combine(CliRunner.Corpus, "SC_rgb_small_odd.dcm"), Temp("x.dcm"), "--model", "cdiff-cxr-denoise");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("Photometric Interpretation RGB", r.Stderr);
    }
}
