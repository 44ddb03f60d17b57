using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Json;
using MedfusionDicom.Gateway.Storage;

namespace MedfusionDicom.Gateway.Export;

/// <summary>A STOW-RS request the server did not take at all (not 200, 202 or 409): the whole batch is retried.</summary>
public sealed class StowRsException(string message) : Exception(message);

/// <summary>
/// STOW-RS (PS3.18 §10.5): each batch is one POST of multipart/related application/dicom parts, streamed from the
/// stored files. The Store Instances Response says per instance what was stored (Referenced SOP Sequence) and what
/// failed with which Failure Reason (Failed SOP Sequence): 200 all stored, 202 some, 409 none.
/// </summary>
internal sealed class StowRsSender : IDestinationSender
{
    private const int MaxResponseBytes = 16 << 20;
    private readonly HttpClient _http;
    private readonly Uri _studies;

    public StowRsSender(DestinationOptions destination)
    {
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(15), PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1) })
        {
            Timeout = TimeSpan.FromMinutes(10),
        };
        foreach (var (name, value) in destination.Headers) _http.DefaultRequestHeaders.TryAddWithoutValidation(name, value);
        _studies = new Uri(destination.Url.TrimEnd('/') + "/studies");
    }

    public int BatchSize => 16;

    public async Task<IReadOnlyList<ExportOutcome>> SendAsync(IReadOnlyList<ExportRecord> batch, CancellationToken ct)
    {
        using var content = new MultipartContent("related", "medfusion-" + Guid.NewGuid().ToString("N"));
        content.Headers.ContentType!.Parameters.Add(new NameValueHeaderValue("type", "\"application/dicom\""));
        foreach (var export in batch)
        {
            var part = new StreamContent(new FileStream(export.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan));
            part.Headers.ContentType = new MediaTypeHeaderValue("application/dicom");
            content.Add(part);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, _studies) { Content = content };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/dicom+json"));
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        var body = await ReadBoundedAsync(response.Content, ct).ConfigureAwait(false);
        if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.Accepted or HttpStatusCode.Conflict))
            throw new StowRsException($"STOW-RS to {_studies} answered {(int)response.StatusCode} {response.ReasonPhrase}{Snippet(body)}");
        return Outcomes(batch, response.StatusCode, body);
    }

    /// <summary>Reads the Store Instances Response. With 200 an instance it does not list as failed was stored; with 202 or 409 only one it lists as referenced was.</summary>
    private IReadOnlyList<ExportOutcome> Outcomes(IReadOnlyList<ExportRecord> batch, HttpStatusCode status, byte[] body)
    {
        var stored = new HashSet<string>(StringComparer.Ordinal);
        var failed = new Dictionary<string, string>(StringComparer.Ordinal);
        if (body.Length > 0)
        {
            DicomDataset response;
            try
            {
                response = DicomJsonReader.Read(body);
            }
            catch (DicomException e)
            {
                throw new StowRsException($"STOW-RS to {_studies} answered {(int)status} with a body that is not a DICOM JSON Store Instances Response: {e.Message}");
            }

            foreach (var item in Items(response, DicomTag.ReferencedSOPSequence))
                stored.Add(item.GetStringOrDefault(DicomTag.ReferencedSOPInstanceUID));
            foreach (var item in Items(response, DicomTag.FailedSOPSequence))
            {
                var reason = item.TryGetSingleValue<ushort>(DicomTag.FailureReason, out var code) ? $"Failure Reason 0x{code.ToString("X4", CultureInfo.InvariantCulture)}" : "no Failure Reason";
                failed[item.GetStringOrDefault(DicomTag.ReferencedSOPInstanceUID)] = $"STOW-RS refused it ({(int)status}, {reason})";
            }
        }

        return batch.Select(e =>
            failed.TryGetValue(e.SopInstanceUid, out var error) ? new ExportOutcome(e.Id, false, error)
            : status == HttpStatusCode.OK || stored.Contains(e.SopInstanceUid) ? new ExportOutcome(e.Id, true)
            : new ExportOutcome(e.Id, false, $"STOW-RS answered {(int)status} without listing the instance as stored")).ToList();
    }

    private static IEnumerable<DicomDataset> Items(DicomDataset response, DicomTag sequence) =>
        response[sequence] is DicomSequence s ? s.Items : [];

    private static async Task<byte[]> ReadBoundedAsync(HttpContent content, CancellationToken ct)
    {
        await using var stream = await content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[1 << 16];
        int read;
        while ((read = await stream.ReadAsync(chunk, ct).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxResponseBytes) throw new StowRsException($"the STOW-RS response is larger than {MaxResponseBytes >> 20} MiB");
            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static string Snippet(byte[] body) =>
        body.Length == 0 ? "" : ": " + System.Text.Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 200)).ReplaceLineEndings(" ");

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
