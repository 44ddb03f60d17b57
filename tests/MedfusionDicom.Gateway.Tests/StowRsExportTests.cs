using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dimse.Tests;
using MedfusionDicom.Gateway.Export;
using MedfusionDicom.Gateway.Storage;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>Export over STOW-RS: to Orthanc's DICOMweb plugin, and to a server that answers per instance or not at all.</summary>
public sealed class StowRsExportTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(180);

    [Fact]
    public async Task Derived_instances_are_stored_in_Orthanc_over_STOW_RS()
    {
        await using var orthanc = new Orthanc();
        await orthanc.StartAsync(new Dictionary<string, (string, int)>(), dicomWeb: true);
        await using var gateway = await GatewayRun.StartAsync(o =>
        {
            o.Destinations = [new DestinationOptions { Name = "web", Type = DestinationType.DicomWeb, Url = orthanc.DicomWebUrl, Headers = new() { ["X-Requested-By"] = "medfusion-test" } }];
            o.Routes[0].Destinations = ["web"];
        }, startDestination: false);

        var sent = await gateway.StoreScuAsync(TestSeries.Mr(gateway.Dir, 3));
        Assert.True(sent.ExitCode == 0, sent.Output);
        JsonArray instances = [];
        await Tools.WaitForAsync(async () => (instances = JsonNode.Parse(await orthanc.Http.GetStringAsync("instances?expand"))!.AsArray()).Count >= 3, Patience, "3 instances in Orthanc");

        var jobs = await gateway.Index.ListJobsAsync();
        var inOrthanc = instances.Select(i => i!["MainDicomTags"]!["SOPInstanceUID"]!.GetValue<string>()).Order().ToList();
        Assert.Equal(jobs.Select(j => j.ResultSopInstanceUid!).Order(), inOrthanc);
        // Orthanc stores the instances before its answer reaches the gateway, which marks the exports done on reading it.
        await Tools.WaitForAsync(async () => (await gateway.Index.ListExportsAsync("web")).All(e => e.State == ExportState.Done), TimeSpan.FromSeconds(30), "the exports marked done");
        Assert.All(await gateway.Index.ListExportsAsync("web"), e => Assert.Equal((ExportState.Done, 1), (e.State, e.Attempts)));
        var tags = JsonNode.Parse(await orthanc.Http.GetStringAsync($"instances/{instances[0]!["ID"]!.GetValue<string>()}/simplified-tags"))!;
        Assert.StartsWith("DERIVED\\SECONDARY", tags["ImageType"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_refuses_the_request_leaves_the_exports_to_retry_with_its_answer_as_the_reason()
    {
        await using var orthanc = new Orthanc();
        await orthanc.StartAsync(new Dictionary<string, (string, int)>(), dicomWeb: true);
        await using var gateway = await GatewayRun.StartAsync(o =>
        {
            o.Destinations = [new DestinationOptions { Name = "web", Type = DestinationType.DicomWeb, Url = orthanc.DicomWebUrl + "/no-such-root" }];
            o.Routes[0].Destinations = ["web"];
            o.Jobs.MaxAttempts = 2;
        }, startDestination: false);

        await gateway.StoreScuAsync([Corpus.Pydicom("MR_small.dcm")]);
        ExportRecord? export = null;
        await Tools.WaitForAsync(async () => (export = (await gateway.Index.ListExportsAsync("web")).SingleOrDefault())?.State == ExportState.Dead, Patience, "a dead export");

        Assert.Contains("STOW-RS to " + orthanc.DicomWebUrl + "/no-such-root/studies answered 404", export!.LastError, StringComparison.Ordinal);
        Assert.Empty(JsonNode.Parse(await orthanc.Http.GetStringAsync("instances"))!.AsArray());
    }

    /// <summary>A STOW-RS server that answers every request with the same status and Store Instances Response.</summary>
    private sealed class ScriptedStowServer : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly Task _serving;

        public ScriptedStowServer(HttpStatusCode status, Func<string, string> body)
        {
            Port = Tools.FreePort();
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            _listener.Start();
            _serving = Task.Run(async () =>
            {
                while (_listener.IsListening)
                {
                    HttpListenerContext context;
                    try
                    {
                        context = await _listener.GetContextAsync();
                    }
                    catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                    {
                        return;
                    }

                    using var reader = new StreamReader(context.Request.InputStream, Encoding.Latin1);
                    var request = await reader.ReadToEndAsync();
                    Requests.Add((context.Request.ContentType ?? "", context.Request.Headers["Authorization"] ?? "", request));
                    var answer = Encoding.UTF8.GetBytes(body(request));
                    context.Response.StatusCode = (int)status;
                    context.Response.ContentType = "application/dicom+json";
                    await context.Response.OutputStream.WriteAsync(answer);
                    context.Response.Close();
                }
            });
        }

        public int Port { get; }
        public List<(string ContentType, string Authorization, string Body)> Requests { get; } = [];

        public void Dispose()
        {
            _listener.Close();
            _serving.Wait(TimeSpan.FromSeconds(5));
        }
    }

    private static ExportRecord Export(long id, string path) =>
        new() { Id = id, SopInstanceUid = DicomFile.Open(path).Dataset.GetString(DicomTag.SOPInstanceUID), Destination = "web", Path = path };

    [Fact]
    public async Task A_202_answer_stores_the_referenced_instances_and_fails_the_others_with_their_Failure_Reason()
    {
        using var dir = new TempDir();
        var files = TestSeries.Mr(dir, 3);
        var batch = files.Select((f, k) => Export(k + 1, f)).ToList();
        using var server = new ScriptedStowServer(HttpStatusCode.Accepted, _ => $$$"""
            {
              "00081199": {"vr": "SQ", "Value": [{"00081150": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.4"]}, "00081155": {"vr": "UI", "Value": ["{{{batch[0].SopInstanceUid}}}"]}}]},
              "00081198": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": ["{{{batch[1].SopInstanceUid}}}"]}, "00081197": {"vr": "US", "Value": [49442]}}]}
            }
            """);
        await using var sender = DestinationSenders.Create(new DestinationOptions
        {
            Name = "web", Type = DestinationType.DicomWeb, Url = $"http://127.0.0.1:{server.Port}/dicomweb/", Headers = new() { ["Authorization"] = "Bearer test-token" },
        }, dir.Sub("staging"), Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);

        var outcomes = await sender.SendAsync(batch, CancellationToken.None);

        Assert.Equal([true, false, false], outcomes.Select(o => o.Succeeded));
        Assert.Equal("STOW-RS refused it (202, Failure Reason 0xC122)", outcomes[1].Error);
        Assert.Equal("STOW-RS answered 202 without listing the instance as stored", outcomes[2].Error);
        var (contentType, authorization, body) = Assert.Single(server.Requests);
        Assert.StartsWith("multipart/related", contentType, StringComparison.Ordinal);
        Assert.Contains("type=\"application/dicom\"", contentType, StringComparison.Ordinal);
        Assert.Equal("Bearer test-token", authorization);
        Assert.Equal(3, body.Split("Content-Type: application/dicom").Length - 1);
        Assert.All(files, f => Assert.Contains(Encoding.Latin1.GetString(File.ReadAllBytes(f)), body, StringComparison.Ordinal)); // each file, whole and unchanged
    }

    [Fact]
    public async Task A_body_that_is_not_a_Store_Instances_Response_fails_the_batch_with_a_clear_reason()
    {
        using var dir = new TempDir();
        var batch = TestSeries.Mr(dir, 1).Select((f, k) => Export(k + 1, f)).ToList();
        using var server = new ScriptedStowServer(HttpStatusCode.Conflict, _ => "<html>conflict</html>");
        await using var sender = DestinationSenders.Create(new DestinationOptions { Name = "web", Type = DestinationType.DicomWeb, Url = $"http://127.0.0.1:{server.Port}" },
            dir.Sub("staging"), Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);

        var error = await Assert.ThrowsAsync<StowRsException>(() => sender.SendAsync(batch, CancellationToken.None));

        Assert.Contains("answered 409 with a body that is not a DICOM JSON Store Instances Response", error.Message, StringComparison.Ordinal);
    }
}
