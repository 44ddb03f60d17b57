using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Json;
using MedfusionDicom.Dimse.Tests;
using MedfusionDicom.Gateway.Storage;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>STOW-RS into the gateway: Orthanc's DICOMweb client as the sender, and bodies that must store nothing.</summary>
public sealed class StowRsIngestTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(180);

    private static Task<GatewayRun> StartAsync(Action<GatewayOptions>? configure = null) => GatewayRun.StartAsync(o =>
    {
        o.DicomWeb.Url = $"http://127.0.0.1:{Tools.FreePort()}/dicomweb";
        configure?.Invoke(o);
    });

    private static string StowUrl(GatewayRun gateway) => gateway.Options.DicomWeb.Url + "/studies";

    private static MultipartContent Body(params HttpContent[] parts)
    {
        var body = new MultipartContent("related", "test-boundary-" + Guid.NewGuid().ToString("N"));
        body.Headers.ContentType!.Parameters.Add(new NameValueHeaderValue("type", "\"application/dicom\""));
        foreach (var part in parts) body.Add(part);
        return body;
    }

    private static ByteArrayContent Dicom(string path)
    {
        var part = new ByteArrayContent(File.ReadAllBytes(path));
        part.Headers.ContentType = new MediaTypeHeaderValue("application/dicom");
        return part;
    }

    [Fact]
    public async Task Orthanc_sends_a_study_over_STOW_RS_and_the_gateway_indexes_routes_and_denoises_it()
    {
        await using var gateway = await StartAsync();
        await using var orthanc = new Orthanc();
        await orthanc.StartAsync(new Dictionary<string, (string, int)>(), dicomWeb: true, dicomWebServers: new Dictionary<string, string> { ["gw"] = gateway.Options.DicomWeb.Url + "/" });
        string? study = null;
        foreach (var file in TestSeries.Mr(gateway.Dir, 3))
        {
            var uploaded = await orthanc.Http.PostAsync("instances", new ByteArrayContent(await File.ReadAllBytesAsync(file)));
            Assert.True(uploaded.IsSuccessStatusCode, await uploaded.Content.ReadAsStringAsync());
            study = JsonNode.Parse(await uploaded.Content.ReadAsStringAsync())!["ParentStudy"]!.GetValue<string>();
        }

        var sent = await orthanc.Http.PostAsJsonAsync("dicom-web/servers/gw/stow", new Dictionary<string, object> { ["Resources"] = new[] { study! }, ["Synchronous"] = true });

        Assert.True(sent.IsSuccessStatusCode, await sent.Content.ReadAsStringAsync());
        var received = (await gateway.Index.ListInstancesAsync()).Where(i => !i.Derived).ToList();
        Assert.Equal(3, received.Count); // indexed before Orthanc's request returned
        Assert.All(received, i => Assert.StartsWith("STOW-RS 127.0.0.1", i.CallingAeTitle, StringComparison.Ordinal));
        await gateway.WaitForReceivedAsync(3, Patience); // routed by the MR rule, denoised and exported like a C-STORE study
    }

    [Fact]
    public async Task The_Store_Instances_Response_lists_what_was_stored_and_what_failed_with_its_reason()
    {
        await using var gateway = await StartAsync();
        var files = TestSeries.Mr(gateway.Dir, 2);
        var notDicom = new ByteArrayContent("not a DICOM file"u8.ToArray());
        notDicom.Headers.ContentType = new MediaTypeHeaderValue("application/dicom");
        using var http = new HttpClient();

        var answer = await http.PostAsync(StowUrl(gateway), Body(Dicom(files[0]), notDicom, Dicom(files[1])));

        Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
        var response = DicomJsonReader.Read(await answer.Content.ReadAsStringAsync());
        var stored = response.GetSequence(DicomTag.ReferencedSOPSequence).Items.Select(i => i.GetString(DicomTag.ReferencedSOPInstanceUID)).ToList();
        Assert.Equal(files.Select(f => DicomFile.Open(f).Dataset.GetString(DicomTag.SOPInstanceUID)).Order(), stored.Order());
        var failed = Assert.Single(response.GetSequence(DicomTag.FailedSOPSequence).Items);
        Assert.Equal((ushort)0xC000, failed.GetSingleValue<ushort>(DicomTag.FailureReason));
        Assert.Contains("/dicomweb/studies/", response.GetString(DicomTag.RetrieveURL), StringComparison.Ordinal);
        Assert.Equal(stored.Order(), (await gateway.Index.ListInstancesAsync()).Where(i => !i.Derived).Select(i => i.SopInstanceUid).Order());
    }

    public static TheoryData<string, Func<GatewayRun, HttpContent>, HttpStatusCode> BadBodies() => new()
    {
        { "no boundary", g => new ByteArrayContent(File.ReadAllBytes(Corpus.Pydicom("MR_small.dcm"))) { Headers = { ContentType = MediaTypeHeaderValue.Parse("multipart/related; type=\"application/dicom\"") } }, HttpStatusCode.UnsupportedMediaType },
        { "mismatched boundary", g => Mismatched(), HttpStatusCode.BadRequest },
        { "truncated part", g => Truncated(), HttpStatusCode.BadRequest },
        { "a part that is not DICOM", g => Body(new ByteArrayContent("hello"u8.ToArray()) { Headers = { ContentType = new MediaTypeHeaderValue("application/dicom") } }), HttpStatusCode.Conflict },
        { "a part of another type", g => Body(new StringContent("{}", System.Text.Encoding.UTF8, "application/json")), HttpStatusCode.Conflict },
        { "not a storage SOP class", g => Body(Dicom(Corpus.Pydicom("dicomdirtests/DICOMDIR"))), HttpStatusCode.Conflict },
        { "an instance of another study than the path's", g => Body(Dicom(Corpus.Pydicom("MR_small.dcm"))), HttpStatusCode.Conflict },
    };

    private static ByteArrayContent Mismatched()
    {
        var bytes = "--other\r\nContent-Type: application/dicom\r\n\r\nabc\r\n--other--\r\n"u8.ToArray();
        return new ByteArrayContent(bytes) { Headers = { ContentType = MediaTypeHeaderValue.Parse("multipart/related; type=\"application/dicom\"; boundary=expected") } };
    }

    private static ByteArrayContent Truncated()
    {
        var file = File.ReadAllBytes(Corpus.Pydicom("MR_small.dcm"));
        var head = "--b\r\nContent-Type: application/dicom\r\n\r\n"u8.ToArray();
        return new ByteArrayContent([.. head, .. file.AsSpan(0, file.Length / 2)]) { Headers = { ContentType = MediaTypeHeaderValue.Parse("multipart/related; type=\"application/dicom\"; boundary=b") } };
    }

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task A_bad_body_gets_a_4xx_and_nothing_is_stored(string what, Func<GatewayRun, HttpContent> body, HttpStatusCode expected)
    {
        await using var gateway = await StartAsync();
        using var http = new HttpClient();
        var url = what.StartsWith("an instance of another study", StringComparison.Ordinal) ? StowUrl(gateway) + "/1.2.3.4.5" : StowUrl(gateway);

        var answer = await http.PostAsync(url, body(gateway));

        Assert.True(expected == answer.StatusCode, $"{what}: {(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync()}");
        Assert.Empty(await gateway.Index.ListInstancesAsync());
        Assert.Empty(Directory.Exists(Path.Combine(gateway.Options.DataDirectory, "instances"))
            ? Directory.GetFiles(Path.Combine(gateway.Options.DataDirectory, "instances"), "*", SearchOption.AllDirectories) : []);
    }

    [Fact]
    public async Task A_body_past_MaxRequestMegabytes_is_413_and_the_disk_watermark_is_507()
    {
        await using var small = await StartAsync(o => o.DicomWeb.MaxRequestMegabytes = 1);
        using var http = new HttpClient();
        var big = new ByteArrayContent(new byte[3 << 20]) { Headers = { ContentType = new MediaTypeHeaderValue("application/dicom") } };
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await http.PostAsync(StowUrl(small), Body(big))).StatusCode);
        Assert.Empty(await small.Index.ListInstancesAsync());

        await using var full = await StartAsync(o => o.Storage.MinimumFreeMegabytes = long.MaxValue / (1024 * 1024 * 2));
        Assert.Equal(HttpStatusCode.InsufficientStorage, (await http.PostAsync(StowUrl(full), Body(Dicom(Corpus.Pydicom("MR_small.dcm"))))).StatusCode);
        Assert.Empty(await full.Index.ListInstancesAsync());
    }
}
