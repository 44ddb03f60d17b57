using MedfusionDicom.Dimse.Tests;
using MedfusionDicom.Gateway.Storage;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>DICOM TLS to a destination: dcmtk's storescp with TLS, which requires our client certificate, pinned both ways.</summary>
public sealed class DestinationTlsTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(180);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Results_go_to_a_TLS_destination_that_we_trust_and_never_to_one_we_do_not(bool trusted)
    {
        using var certificates = new TempDir();
        var storescp = TestCertificates.SelfSigned(certificates, "storescp");
        var gateway = TestCertificates.SelfSigned(certificates, "gateway");
        var stranger = TestCertificates.SelfSigned(certificates, "stranger");
        var port = Tools.FreePort();
        await using var run = await GatewayRun.StartAsync(o =>
        {
            o.Destinations = [new DestinationOptions
            {
                Name = "tls", Host = "127.0.0.1", Port = port, AeTitle = "TLSSCP",
                Tls = new TlsOptions { CertificatePath = gateway.CertPem, KeyPath = gateway.KeyPem, TrustedCertificatesPath = trusted ? storescp.CertPem : stranger.CertPem },
            }];
            o.Routes[0].Destinations = ["tls"];
            o.Jobs.MaxAttempts = 2;
        }, startDestination: false);
        await using var destination = new PeerProcess("storescp", ["+tls", storescp.KeyPem, storescp.CertPem, "+cf", gateway.CertPem, "-aet", "TLSSCP", "-od", run.Received, "-uf", GatewayProcess.Port(port)]);
        await Tools.WaitForAsync(() => Tools.PortOpenAsync(port), TimeSpan.FromSeconds(10), "storescp");

        await run.StoreScuAsync([Corpus.Pydicom("MR_small.dcm")]);

        if (trusted)
        {
            await run.WaitForReceivedAsync(1, Patience);
            // The file lands at the destination before its response reaches the gateway and the export is marked done.
            await Tools.WaitForAsync(async () => (await run.Index.ListExportsAsync()).SingleOrDefault()?.State == ExportState.Done, Patience, "the export done");
        }
        else
        {
            ExportRecord? export = null;
            await Tools.WaitForAsync(async () => (export = (await run.Index.ListExportsAsync()).SingleOrDefault())?.State == ExportState.Dead, Patience, "a dead export");
            Assert.Empty(Directory.GetFiles(run.Received));
            Assert.Contains("TLS handshake with 127.0.0.1", export!.LastError, StringComparison.Ordinal);
        }
    }
}
