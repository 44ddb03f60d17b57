using System.Globalization;
using MedfusionDicom.Dicom;

namespace MedfusionDicom.Dimse.Tests;

/// <summary>The medfusion verbs echo, store and scp, run as the real executable.</summary>
public sealed class CliTests
{
    private static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "medfusion.dll");

    private static Task<ToolResult> MedfusionAsync(params string[] args) => Tools.RunAsync("dotnet", [Cli, .. args]);

    [Fact]
    public async Task ScpEchoAndStore_Verbs_WorkTogether_AndReportFailures()
    {
        using var dir = new TempDir();
        var port = Tools.FreePort().ToString(CultureInfo.InvariantCulture);
        var output = dir.Sub("received");
        await using var scp = new PeerProcess("dotnet", [Cli, "scp", "--port", port, "--aet", "CLISCP", "--out", output, "--max-associations", "4"]);
        await Tools.WaitForAsync(() => Tools.PortOpenAsync(int.Parse(port, CultureInfo.InvariantCulture)), TimeSpan.FromSeconds(20), "medfusion scp");

        var echo = await MedfusionAsync("echo", "127.0.0.1", port, "--called-aet", "CLISCP", "--calling-aet", "CLITEST");
        Assert.True(echo.ExitCode == 0, echo.Output);
        Assert.Contains("status 0000", echo.Stdout, StringComparison.Ordinal);

        var rejected = await MedfusionAsync("echo", "127.0.0.1", port, "--called-aet", "WRONG");
        Assert.NotEqual(0, rejected.ExitCode);
        Assert.Contains("association rejected", rejected.Stderr, StringComparison.Ordinal);
        Assert.Single(rejected.Stderr.Trim().Split('\n'));

        // A folder (recursive) with three instances and one file that is not DICOM, which is skipped.
        var folder = dir.Sub("send");
        var nested = Directory.CreateDirectory(Path.Combine(folder, "nested")).FullName;
        var sources = new[] { "CT_small.dcm", "JPEG2000.dcm", "rtdose.dcm" };
        File.Copy(Corpus.Pydicom(sources[0]), Path.Combine(folder, sources[0]));
        File.Copy(Corpus.Pydicom(sources[1]), Path.Combine(nested, sources[1]));
        File.Copy(Corpus.Pydicom(sources[2]), Path.Combine(nested, sources[2]));
        await File.WriteAllTextAsync(Path.Combine(folder, "notes.txt"), "not an image");
        var store = await MedfusionAsync("store", "127.0.0.1", port, folder, "--called-aet", "CLISCP");
        Assert.True(store.ExitCode == 0, store.Output);
        Assert.Contains("stored 3 of 3 instances", store.Stdout, StringComparison.Ordinal);
        Assert.Contains("skipped 1 non-DICOM file: notes.txt", store.Stdout, StringComparison.Ordinal);

        // Named on the command line, the same file is an error.
        var named = await MedfusionAsync("store", "127.0.0.1", port, Path.Combine(folder, "notes.txt"), "--called-aet", "CLISCP");
        Assert.Equal(1, named.ExitCode);
        Assert.Contains("notes.txt: not a DICOM file", named.Stderr, StringComparison.Ordinal);
        Assert.Contains("stored 0 of 1 instances", named.Stdout, StringComparison.Ordinal);

        var received = DatasetAssert.ByInstanceUid(output);
        Assert.Equal(3, received.Count);
        foreach (var s in sources)
        {
            var source = Corpus.Pydicom(s);
            var copy = received[DicomFile.Open(source).Dataset.GetString(DicomTag.SOPInstanceUID)];
            Assert.Equal(DatasetAssert.RawDataset(source), DatasetAssert.RawDataset(copy));
        }
        var log = await scp.StopAsync();
        Assert.Contains("stored 1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Store_OfAFolderWithALicenseFile_ToStorescp_SkipsItNamesItAndSucceeds()
    {
        using var dir = new TempDir();
        var port = Tools.FreePort();
        var output = dir.Sub("storescp");
        await using var storescp = new PeerProcess("storescp", ["-aet", "DCMTK", "-od", output, "-uf", port.ToString(CultureInfo.InvariantCulture)]);
        await Tools.WaitForAsync(() => Tools.PortOpenAsync(port), TimeSpan.FromSeconds(10), "storescp");
        var folder = dir.Sub("release");
        var nested = Directory.CreateDirectory(Path.Combine(folder, "images")).FullName;
        File.Copy(Corpus.Pydicom("CT_small.dcm"), Path.Combine(folder, "CT_small.dcm"));
        File.Copy(Corpus.Pydicom("rtdose.dcm"), Path.Combine(nested, "rtdose.dcm"));
        await File.WriteAllTextAsync(Path.Combine(folder, "LICENSE"), "MIT License\n\nCopyright (c) the authors\n");
        await File.WriteAllTextAsync(Path.Combine(nested, "README.md"), "# images\n");

        var store = await MedfusionAsync("store", "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), folder, "--called-aet", "DCMTK");
        Assert.True(store.ExitCode == 0, store.Output);
        Assert.Contains("stored 2 of 2 instances", store.Stdout, StringComparison.Ordinal);
        Assert.Contains($"skipped 2 non-DICOM files: LICENSE, {Path.Combine("images", "README.md")}", store.Stdout, StringComparison.Ordinal);
        Assert.Equal("", store.Stderr);
        await Tools.WaitForAsync(() => Task.FromResult(Directory.GetFiles(output).Length == 2), TimeSpan.FromSeconds(10), "storescp files");

        // A file with the DICM prefix that does not parse is DICOM gone bad, not a stray file: it fails the run.
        var broken = new byte[200];
        "DICM"u8.CopyTo(broken.AsSpan(128));
        await File.WriteAllBytesAsync(Path.Combine(folder, "broken.dcm"), broken);
        var failed = await MedfusionAsync("store", "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), folder, "--called-aet", "DCMTK");
        Assert.Equal(1, failed.ExitCode);
        Assert.Contains("broken.dcm", failed.Stderr, StringComparison.Ordinal);
        Assert.Contains("stored 2 of 3 instances", failed.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Store_ToNobody_FailsWithOneLine()
    {
        var port = Tools.FreePort().ToString(CultureInfo.InvariantCulture);
        var run = await MedfusionAsync("store", "127.0.0.1", port, Corpus.Pydicom("CT_small.dcm"));
        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith("medfusion: cannot connect to 127.0.0.1:" + port, run.Stderr, StringComparison.Ordinal);
    }
}
