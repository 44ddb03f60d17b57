using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using MedfusionDicom.Dicom;

namespace MedfusionDicom.Dimse.Tests;

/// <summary>Orthanc (a real PACS) in both directions, and DICOM TLS against dcmtk in both directions.</summary>
public sealed class OrthancAndTlsTests
{
    private static string P(int port) => port.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task OurScu_ToOrthanc_AndOrthanc_ToOurScp_KeepEveryDataset()
    {
        await using var scp = await ScpHost.StartAsync();
        await using var orthanc = new Orthanc();
        await orthanc.StartAsync(new Dictionary<string, (string, int)> { ["ours"] = (ScpHost.AETitle, scp.Port) });
        var files = Corpus.Uncompressed.Select(Corpus.Pydicom).Append(Corpus.Pydicom("JPEG2000.dcm")).Append(Corpus.Pydicom("SC_rgb_rle.dcm")).ToArray();

        // Our SCU -> Orthanc: Orthanc accepts every syntax, so each file goes in its own.
        var client = new DicomClient(new DicomClientOptions { Host = "127.0.0.1", Port = orthanc.DicomPort, CalledAE = "ORTHANC", CallingAE = "MEDFUSION" });
        var results = await client.StoreAsync(files);
        Assert.All(results, r => Assert.True(r.Succeeded, $"{r.Path}: {r.Error}"));
        var ids = await orthanc.Http.GetFromJsonAsync<string[]>("instances");
        Assert.Equal(files.Length, ids!.Length);
        using var dir = new TempDir();
        foreach (var id in ids)
        {
            var path = Path.Combine(dir.Path, id + ".dcm");
            await File.WriteAllBytesAsync(path, await orthanc.Http.GetByteArrayAsync($"instances/{id}/file"));
        }
        var inOrthanc = DatasetAssert.ByInstanceUid(dir.Path);
        foreach (var f in files) DatasetAssert.SameInstance(f, inOrthanc[DicomFile.Open(f).Dataset.GetString(DicomTag.SOPInstanceUID)]);

        // Orthanc -> our SCP, through its REST API: the same instances arrive unchanged.
        var response = await orthanc.Http.PostAsJsonAsync("modalities/ours/store", new Dictionary<string, object> { ["Resources"] = ids, ["Synchronous"] = true });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        var received = DatasetAssert.ByInstanceUid(scp.Output);
        Assert.Equal(files.Length, received.Count);
        foreach (var f in files)
        {
            var uid = DicomFile.Open(f).Dataset.GetString(DicomTag.SOPInstanceUID);
            DatasetAssert.SameInstance(f, received[uid]);
            Assert.Equal("ORTHANC", DicomFile.Open(received[uid]).FileMetaInfo.GetString(DicomTag.SourceApplicationEntityTitle));
        }
    }

    [Fact]
    public async Task Tls_StorescuToOurScp_WithClientCertificates_AndAPeerWithoutOneIsRefused()
    {
        using var dir = new TempDir();
        var server = TestCertificates.SelfSigned(dir, "ourscp");
        var dcmtk = TestCertificates.SelfSigned(dir, "storescu");
        await using var scp = await ScpHost.StartAsync(o => o.Tls = new DicomTlsOptions
        {
            Certificate = server.Cert,
            RequireClientCertificate = true,
            TrustedCertificates = [X509CertificateLoader.LoadCertificate(dcmtk.Cert.RawData)],
        });
        var files = Corpus.Uncompressed.Select(Corpus.Pydicom).ToArray();
        var run = await Tools.RunAsync("storescu", ["+tls", dcmtk.KeyPem, dcmtk.CertPem, "+cf", server.CertPem, "-R", "-xb",
            "-aec", ScpHost.AETitle, "127.0.0.1", P(scp.Port), .. files]);
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Equal(files.Length, DatasetAssert.ByInstanceUid(scp.Output).Count);

        // Our SCU trusting the server but presenting no certificate: the handshake fails, the server carries on.
        var noCert = scp.Client(configure: o => o.Tls = new DicomTlsOptions { TrustedCertificates = [X509CertificateLoader.LoadCertificate(server.Cert.RawData)] });
        await Assert.ThrowsAnyAsync<DicomException>(() => noCert.EchoAsync());
        var withCert = scp.Client(configure: o => o.Tls = new DicomTlsOptions
        {
            Certificate = dcmtk.Cert,
            TrustedCertificates = [X509CertificateLoader.LoadCertificate(server.Cert.RawData)],
        });
        Assert.Equal(DicomStatus.Success, await withCert.EchoAsync());
    }

    [Fact]
    public async Task Tls_OurScuToStorescp_AndAnUntrustedServerIsRefused()
    {
        using var dir = new TempDir();
        var dcmtk = TestCertificates.SelfSigned(dir, "storescp");
        var ours = TestCertificates.SelfSigned(dir, "ourscu");
        var port = Tools.FreePort();
        var output = dir.Sub("out");
        await using var storescp = new PeerProcess("storescp", ["+tls", dcmtk.KeyPem, dcmtk.CertPem, "+cf", ours.CertPem, "-aet", "DCMTK", "-od", output, "-uf", P(port)]);
        await Tools.WaitForAsync(() => Tools.PortOpenAsync(port), TimeSpan.FromSeconds(10), "storescp");
        var files = Corpus.Uncompressed.Select(Corpus.Pydicom).ToArray();
        DicomClient Client(X509Certificate2 trusted) => new(new DicomClientOptions
        {
            Host = "127.0.0.1",
            Port = port,
            CalledAE = "DCMTK",
            Tls = new DicomTlsOptions { Certificate = ours.Cert, TrustedCertificates = [trusted] },
        });

        // Trusting some other certificate: our SCU must refuse storescp's.
        await Assert.ThrowsAnyAsync<DicomException>(() => Client(ours.Cert).StoreAsync(files));
        var results = await Client(X509CertificateLoader.LoadCertificate(dcmtk.Cert.RawData)).StoreAsync(files);
        Assert.All(results, r => Assert.True(r.Succeeded, $"{r.Path}: {r.Error}"));
        await Tools.WaitForAsync(() => Task.FromResult(Directory.GetFiles(output).Length == files.Length), TimeSpan.FromSeconds(10), "storescp files");
        var stored = DatasetAssert.ByInstanceUid(output);
        foreach (var f in files) DatasetAssert.SameInstance(f, stored[DicomFile.Open(f).Dataset.GetString(DicomTag.SOPInstanceUID)]);
    }
}
