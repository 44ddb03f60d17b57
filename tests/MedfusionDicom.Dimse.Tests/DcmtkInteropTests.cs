using System.Globalization;
using MedfusionDicom.Dicom;

namespace MedfusionDicom.Dimse.Tests;

/// <summary>dcmtk's echoscu/storescu against our SCP, and our SCU against dcmtk's storescp.</summary>
public sealed class DcmtkInteropTests
{
    private static string P(int port) => port.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task Echoscu_IsAnswered_AndAWrongCalledAeIsRejectedWithReason7()
    {
        await using var scp = await ScpHost.StartAsync();
        var ok = await Tools.RunAsync("echoscu", ["-aec", ScpHost.AETitle, "127.0.0.1", P(scp.Port)]);
        Assert.True(ok.ExitCode == 0, ok.Output);

        var wrong = await Tools.RunAsync("echoscu", ["-aec", "NOTUS", "127.0.0.1", P(scp.Port)]);
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.Contains("Called AE Title Not Recognized", wrong.Output, StringComparison.Ordinal);
        Assert.True(scp.Logs.Has(Microsoft.Extensions.Logging.LogLevel.Warning, "called AE 'NOTUS'"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Storescu_UncompressedFiles_AreStoredWithIdenticalDatasets(bool journal)
    {
        // With the journal, small instances are made durable through it; without, each file is fdatasync'ed in place.
        await using var scp = await ScpHost.StartAsync(journal ? null : o => o.JournalDirectory = null);
        var files = Corpus.Uncompressed.Select(Corpus.Pydicom).ToArray();
        // -xb proposes big endian first, so the big endian file travels (and is stored) unchanged.
        var run = await Tools.RunAsync("storescu", ["-R", "-xb", "-aec", ScpHost.AETitle, "127.0.0.1", P(scp.Port), .. files]);
        Assert.True(run.ExitCode == 0, run.Output);
        AssertAllStored(files, scp.Output, expectSameSyntax: false);
    }

    [Fact]
    public async Task Storescu_CompressedFiles_AreStoredInTheirOwnSyntaxUnchanged()
    {
        await using var scp = await ScpHost.StartAsync();
        foreach (var group in Corpus.Compressed.GroupBy(c => c.ProposeOption))
        {
            var files = group.Select(c => Corpus.Pydicom(c.File)).ToArray();
            var run = await Tools.RunAsync("storescu", ["-R", group.Key, "-aec", ScpHost.AETitle, "127.0.0.1", P(scp.Port), .. files]);
            Assert.True(run.ExitCode == 0, run.Output);
            AssertAllStored(files, scp.Output, expectSameSyntax: true);
            foreach (var stored in Directory.GetFiles(scp.Output)) File.Delete(stored);
        }
    }

    [SharedDataFact]
    public async Task Storescu_MrSeries_AllInstancesStoredByteForByte()
    {
        await using var scp = await ScpHost.StartAsync();
        var files = Corpus.MrSeries();
        var run = await Tools.RunAsync("storescu", ["-aec", ScpHost.AETitle, "127.0.0.1", P(scp.Port), .. files]);
        Assert.True(run.ExitCode == 0, run.Output);
        var stored = DatasetAssert.ByInstanceUid(scp.Output);
        Assert.Equal(files.Length, stored.Count);
        foreach (var f in files)
        {
            var uid = DicomFile.Open(f).Dataset.GetString(DicomTag.SOPInstanceUID);
            // storescu sends these explicit VR LE files as they are, so the stored dataset is the source's, byte for byte.
            Assert.Equal(DatasetAssert.RawDataset(f), DatasetAssert.RawDataset(stored[uid]));
        }
    }

    private static void AssertAllStored(string[] sources, string folder, bool expectSameSyntax)
    {
        var stored = DatasetAssert.ByInstanceUid(folder);
        Assert.Equal(sources.Length, stored.Count);
        Assert.Empty(Directory.GetFiles(folder, "*.part", SearchOption.AllDirectories));
        foreach (var source in sources)
        {
            var received = stored[DicomFile.Open(source).Dataset.GetString(DicomTag.SOPInstanceUID)];
            if (expectSameSyntax) DatasetAssert.SameInstance(source, received);
            else DatasetAssert.Equivalent(DicomFile.Open(source).Dataset, DicomFile.Open(received).Dataset, Path.GetFileName(source) + " ");
        }
    }

    [Fact]
    public async Task OurScu_ToStorescp_StoresEveryFile_InItsOwnSyntax()
    {
        using var dir = new TempDir();
        var port = Tools.FreePort();
        var output = dir.Sub("storescp");
        await using var storescp = new PeerProcess("storescp", ["-aet", "DCMTK", "-od", output, "-uf", P(port)]);
        await Tools.WaitForAsync(() => Tools.PortOpenAsync(port), TimeSpan.FromSeconds(10), "storescp");
        // storescp accepts only uncompressed syntaxes by default, and this client has no codec (an empty registry):
        // the compressed file must fail alone, cleanly.
        var files = Corpus.Uncompressed.Select(Corpus.Pydicom).Append(Corpus.Pydicom("JPEG2000.dcm")).ToArray();
        var client = new DicomClient(new DicomClientOptions
        {
            Host = "127.0.0.1", Port = port, CalledAE = "DCMTK",
            Transcoder = new CodecTranscoder(new MedfusionDicom.Dicom.Imaging.DicomCodecRegistry()),
        });
        var results = await client.StoreAsync(files);

        Assert.All(results.Take(Corpus.Uncompressed.Length), r => Assert.True(r.Succeeded, $"{r.Path}: {r.Error}"));
        var refused = results[^1];
        Assert.False(refused.Succeeded);
        Assert.Contains("refuses", refused.Error, StringComparison.Ordinal);
        await Tools.WaitForAsync(() => Task.FromResult(Directory.GetFiles(output).Length == Corpus.Uncompressed.Length), TimeSpan.FromSeconds(10), "storescp files");
        var stored = DatasetAssert.ByInstanceUid(output);
        foreach (var source in files.SkipLast(1))
            DatasetAssert.SameInstance(source, stored[DicomFile.Open(source).Dataset.GetString(DicomTag.SOPInstanceUID)]);
    }

    [Fact]
    public async Task OurScu_ToStorescp_ThatOnlyTakesImplicit_TranscodesUncompressedFiles()
    {
        using var dir = new TempDir();
        var port = Tools.FreePort();
        var output = dir.Sub("storescp");
        // +xi: storescp accepts Implicit VR LE only, so explicit and big endian files go through the fallback context.
        await using var storescp = new PeerProcess("storescp", ["+xi", "-aet", "DCMTK", "-od", output, "-uf", P(port)]);
        await Tools.WaitForAsync(() => Tools.PortOpenAsync(port), TimeSpan.FromSeconds(10), "storescp");
        var files = new[] { Corpus.Pydicom("CT_small.dcm"), Corpus.Pydicom("MR_small_bigendian.dcm") };
        var results = await new DicomClient(new DicomClientOptions { Host = "127.0.0.1", Port = port, CalledAE = "DCMTK" }).StoreAsync(files);
        Assert.All(results, r => Assert.True(r.Succeeded, $"{r.Path}: {r.Error}"));
        await Tools.WaitForAsync(() => Task.FromResult(Directory.GetFiles(output).Length == 2), TimeSpan.FromSeconds(10), "storescp files");
        foreach (var (source, received) in files.Select(f => (f, DatasetAssert.ByInstanceUid(output)[DicomFile.Open(f).Dataset.GetString(DicomTag.SOPInstanceUID)])))
        {
            var file = DicomFile.Open(received);
            Assert.Equal(DicomTransferSyntax.ImplicitVRLittleEndian, file.TransferSyntax);
            DatasetAssert.Equivalent(DicomFile.Open(source).Dataset, file.Dataset, Path.GetFileName(source) + " ", viaImplicitVr: true);
        }
    }

    [Fact]
    public async Task OurScu_ToStorescp_ThatOnlyTakesImplicit_DecompressesCompressedFiles()
    {
        var codecs = new MedfusionDicom.Dicom.Imaging.DicomCodecRegistry();
        MedfusionDicom.Dicom.Codecs.GdcmCodecs.Register(codecs);
        using var dir = new TempDir();
        var port = Tools.FreePort();
        var output = dir.Sub("storescp");
        // +uf: both files are versions of one instance (same SOP Instance UID), so names must not come from it.
        await using var storescp = new PeerProcess("storescp", ["+xi", "+uf", "-aet", "DCMTK", "-od", output, P(port)]);
        await Tools.WaitForAsync(() => Tools.PortOpenAsync(port), TimeSpan.FromSeconds(10), "storescp");
        // JPEG-LS and RLE versions of MR_small: the peer refuses both syntaxes, so the SCU must decode them.
        var files = new[] { Corpus.Pydicom("MR_small_jpeg_ls_lossless.dcm"), Corpus.Pydicom("MR_small_RLE.dcm") };
        var options = new DicomClientOptions { Host = "127.0.0.1", Port = port, CalledAE = "DCMTK", Transcoder = new CodecTranscoder(codecs) };
        var results = await new DicomClient(options).StoreAsync(files);
        Assert.All(results, r => Assert.True(r.Succeeded, $"{r.Path}: {r.Error}"));
        await Tools.WaitForAsync(() => Task.FromResult(Directory.GetFiles(output).Length == 2), TimeSpan.FromSeconds(10), "storescp files");
        var reference = MedfusionDicom.Dicom.Imaging.DicomPixelData.Create(DicomFile.Open(Corpus.Pydicom("MR_small.dcm")).Dataset).GetFrame(0).ToArray();
        foreach (var received in Directory.GetFiles(output))
        {
            var file = DicomFile.Open(received);
            Assert.Equal(DicomTransferSyntax.ImplicitVRLittleEndian, file.TransferSyntax);
            Assert.Equal(reference, MedfusionDicom.Dicom.Imaging.DicomPixelData.Create(file.Dataset).GetFrame(0).ToArray());
        }
    }
}
