using System.Text.Json;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Imaging;

namespace MedfusionDicom.Cli.Tests;

public class DicomVerbTests
{
    [Fact]
    public void Dump_lists_elements_with_keywords()
    {
        var r = CliRunner.Run("dicom", "dump", Path.Combine(CliRunner.Corpus, "CT_small.dcm"));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("(0010,0010) PN [CompressedSamples^CT1]", r.Stdout);
        Assert.Contains("TransferSyntaxUID", r.Stdout);
    }

    [Fact]
    public void Dump_json_is_the_DICOM_JSON_model()
    {
        var r = CliRunner.Run("dicom", "dump", Path.Combine(CliRunner.Corpus, "CT_small.dcm"), "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        var name = doc.RootElement.GetProperty("00100010");
        Assert.Equal("PN", name.GetProperty("vr").GetString());
        Assert.Equal("CompressedSamples^CT1", name.GetProperty("Value")[0].GetProperty("Alphabetic").GetString());
        Assert.Equal(128, doc.RootElement.GetProperty("00280010").GetProperty("Value")[0].GetInt32());
    }

    [Fact]
    public void Transcode_decompresses_to_the_requested_syntax()
    {
        var output = Path.Combine(Path.GetTempPath(), $"cli-{Guid.NewGuid():N}.dcm");
        try
        {
            var source = Path.Combine(CliRunner.Corpus, "MR_small_RLE.dcm");
            var r = CliRunner.Run("dicom", "transcode", source, output, "--transfer-syntax", "1.2.840.10008.1.2");
            Assert.True(r.ExitCode == 0, r.Stderr);
            var result = DicomFile.Open(output);
            Assert.Equal(DicomTransferSyntax.ImplicitVRLittleEndian, result.TransferSyntax);
            var reference = DicomFile.Open(Path.Combine(CliRunner.Corpus, "MR_small.dcm"));
            Assert.Equal(DicomPixelData.Create(reference.Dataset).GetFrame(0).ToArray(), DicomPixelData.Create(result.Dataset).GetFrame(0).ToArray());
        }
        finally
        {
            File.Delete(output);
        }
    }

    [Theory]
    [InlineData("dicom", "dump", "/no/such/file.dcm")]
    [InlineData("dicom", "dump", CliRunner.Corpus + "/MR_truncated.dcm")]
    [InlineData("dicom", "transcode", CliRunner.Corpus + "/CT_small.dcm", "/tmp/x.dcm", "--transfer-syntax", "1.2.3.4")]
    public void Bad_input_gives_one_line_and_a_nonzero_exit(params string[] args)
    {
        var r = CliRunner.Run(args);
        Assert.NotEqual(0, r.ExitCode);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("medfusion: ", lines[0]);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public void Missing_required_option_is_a_usage_error()
    {
        var r = CliRunner.Run("dicom", "transcode", "a.dcm", "b.dcm");
        Assert.Equal(MedfusionDicom.Cli.Commands.CliAction.BadInput, r.ExitCode);
        Assert.Contains("--transfer-syntax", r.Stderr);
    }
}
