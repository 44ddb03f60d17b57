using MedfusionDicom.Dimse.Tests;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>The DICOMweb tests' setups: a gateway serving DICOMweb on a free port, and the same instances in Orthanc's DICOMweb plugin.</summary>
internal static class DicomWebPeers
{
    /// <summary>A gateway with DICOMweb on a free loopback port and no route that matches, so it holds only what is sent.</summary>
    public static Task<GatewayRun> StartGatewayAsync(Action<GatewayOptions>? configure = null) => GatewayRun.StartAsync(o =>
    {
        o.DicomWeb.Url = $"http://127.0.0.1:{Tools.FreePort()}/dicomweb";
        o.Routes[0].Match = new() { ["Modality"] = ["NONE"] }; // no derived series: the gateway holds what was sent
        configure?.Invoke(o);
    });

    /// <summary>Three MR_small copies as one series and CT_small, sent to a gateway (storescu) and to Orthanc (REST).</summary>
    public static async Task<(GatewayRun Gateway, Orthanc Orthanc, IReadOnlyList<string> Files)> LoadBothAsync()
    {
        var gateway = await StartGatewayAsync();
        var orthanc = new Orthanc();
        await orthanc.StartAsync(new Dictionary<string, (string, int)>(), dicomWeb: true);
        var files = TestSeries.Mr(gateway.Dir, 3).Append(Corpus.Pydicom("CT_small.dcm")).ToList();
        Assert.Equal(0, (await gateway.StoreScuAsync(files)).ExitCode);
        foreach (var f in files) Assert.True((await orthanc.Http.PostAsync("instances", new ByteArrayContent(await File.ReadAllBytesAsync(f)))).IsSuccessStatusCode);
        return (gateway, orthanc, files);
    }
}
