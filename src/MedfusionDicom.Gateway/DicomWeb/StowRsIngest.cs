using System.Globalization;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.IO;
using MedfusionDicom.Dicom.Json;
using MedfusionDicom.Dimse;
using MedfusionDicom.Gateway.Ingest;
using MedfusionDicom.Gateway.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace MedfusionDicom.Gateway.DicomWeb;

/// <summary>
/// STOW-RS (PS3.18 §10.5): POST /studies and /studies/{study} with multipart/related application/dicom parts. Every
/// part is first streamed to a temporary file and checked, so a body that turns out malformed stores nothing (400).
/// Then each instance that passed is placed, durable and indexed, as a C-STORE is, before the answer: the Store
/// Instances Response lists what was stored and what failed with its Failure Reason; 200 all, 202 some, 409 none.
/// Below the free-space watermark the request is refused with 507 before anything is read.
/// </summary>
public sealed class StowRsIngest(GatewayIndex index, InstanceFiles files, long minimumFreeBytes, string baseUrl, ILogger logger)
{
    private const ushort SopClassNotSupported = 0x0122, OutOfResources = 0xA700, DoesNotMatch = 0xA900, CannotUnderstand = 0xC000;
    private readonly FreeSpaceProbe _freeSpace = new(files.Root);

    private sealed record Part(string TempPath, DicomDataset? Header, string TransferSyntax, ushort? Failure, string Why);

    public async Task HandleAsync(HttpContext context, string? study)
    {
        var ct = context.RequestAborted;
        if (study is not null && !DicomUID.IsValid(study))
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status400BadRequest, $"'{study}' is not a valid Study Instance UID").ConfigureAwait(false);
            return;
        }

        if (!MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var contentType) || !contentType.MediaType.Equals("multipart/related", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(contentType.Boundary).Value is not { Length: > 0 } boundary)
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status415UnsupportedMediaType, "STOW-RS takes multipart/related; type=\"application/dicom\" with a boundary").ConfigureAwait(false);
            return;
        }

        var type = contentType.Parameters.FirstOrDefault(p => p.Name.Equals("type", StringComparison.OrdinalIgnoreCase))?.Value.Value?.Trim('"');
        if (type is not null && !type.Equals("application/dicom", StringComparison.OrdinalIgnoreCase))
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status415UnsupportedMediaType, $"parts of type '{type}' are not taken; this server stores application/dicom").ConfigureAwait(false);
            return;
        }

        if (_freeSpace.FreeBytes() < minimumFreeBytes)
        {
            GatewayLog.StorageFull(logger, minimumFreeBytes / (1024 * 1024), files.Root);
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status507InsufficientStorage, "storage nearly full").ConfigureAwait(false);
            return;
        }

        var parts = new List<Part>();
        try
        {
            try
            {
                await StageAsync(context.Request.Body, boundary, parts, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or BadHttpRequestException && !ct.IsCancellationRequested)
            {
                var tooLarge = e is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge };
                await DicomWebProblem.WriteAsync(context, tooLarge ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest,
                    tooLarge ? "the request is larger than Gateway:DicomWeb:MaxRequestMegabytes" : $"the multipart body is malformed: {e.Message}").ConfigureAwait(false);
                return;
            }

            if (parts.Count == 0)
            {
                await DicomWebProblem.WriteAsync(context, StatusCodes.Status400BadRequest, "the multipart body has no parts").ConfigureAwait(false);
                return;
            }

            var response = new DicomDataset();
            var stored = new List<DicomDataset>();
            var failed = new List<DicomDataset>();
            foreach (var part in parts)
            {
                var outcome = part.Failure is null && study is not null && part.Header!.GetStringOrDefault(DicomTag.StudyInstanceUID) != study
                    ? part with { Failure = DoesNotMatch, Why = $"its Study Instance UID is not {study}, the study of the request" }
                    : part;
                if (outcome.Failure is null)
                {
                    try
                    {
                        await PlaceAsync(context, outcome, ct).ConfigureAwait(false);
                        stored.Add(Reference(outcome.Header!).AddOrUpdate(DicomTag.RetrieveURL, InstanceUrl(outcome.Header!)));
                        continue;
                    }
                    catch (IOException e)
                    {
                        outcome = outcome with { Failure = OutOfResources, Why = e.Message };
                    }
                }

                DicomWebLog.InstanceRefused(logger, outcome.Header?.GetStringOrDefault(DicomTag.SOPInstanceUID) ?? "(unknown)", outcome.Why);
                failed.Add((outcome.Header is null ? new DicomDataset() : Reference(outcome.Header)).AddOrUpdate(DicomTag.FailureReason, outcome.Failure!.Value));
            }

            // The study's Retrieve URL: the path's study, else the study of the first instance stored.
            var retrieveStudy = study ?? parts.FirstOrDefault(p => p.Failure is null)?.Header!.GetString(DicomTag.StudyInstanceUID);
            if (retrieveStudy is not null && (study is not null || stored.Count > 0)) response.AddOrUpdate(DicomTag.RetrieveURL, $"{baseUrl}/studies/{retrieveStudy}");
            if (failed.Count > 0) response.AddOrUpdate(new DicomSequence(DicomTag.FailedSOPSequence, failed));
            if (stored.Count > 0) response.AddOrUpdate(new DicomSequence(DicomTag.ReferencedSOPSequence, stored));
            context.Response.StatusCode = failed.Count == 0 ? StatusCodes.Status200OK : stored.Count > 0 ? StatusCodes.Status202Accepted : StatusCodes.Status409Conflict;
            context.Response.ContentType = "application/dicom+json";
            await context.Response.WriteAsync(DicomJsonWriter.ToJson(response), ct).ConfigureAwait(false);
        }
        finally
        {
            foreach (var part in parts) TryDelete(part.TempPath);
        }
    }

    /// <summary>Streams each part to a temporary file and reads its header; a part that is not a storage instance is marked with why.</summary>
    private async Task StageAsync(Stream body, string boundary, List<Part> parts, CancellationToken ct)
    {
        var reader = new MultipartReader(boundary, body) { HeadersCountLimit = 16, HeadersLengthLimit = 16 * 1024, BodyLengthLimit = null };
        Directory.CreateDirectory(files.Root);
        while (await reader.ReadNextSectionAsync(ct).ConfigureAwait(false) is { } section)
        {
            var temp = Path.Combine(files.Root, $".stow-{Guid.NewGuid():N}.part");
            parts.Add(new Part(temp, null, "", CannotUnderstand, "not read"));
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await section.Body.CopyToAsync(file, ct).ConfigureAwait(false);
                await file.FlushAsync(ct).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }

            parts[^1] = Inspect(temp, section.ContentType);
        }
    }

    private static Part Inspect(string temp, string? partType)
    {
        if (partType is not null && !partType.Split(';')[0].Trim().Equals("application/dicom", StringComparison.OrdinalIgnoreCase))
            return new Part(temp, null, "", CannotUnderstand, $"a part of type '{partType}', not application/dicom");
        DicomFile file;
        try
        {
            file = DicomFile.Open(temp, new DicomReaderOptions { StopBeforeTag = DicomTag.PixelData });
        }
        catch (DicomException e)
        {
            return new Part(temp, null, "", CannotUnderstand, $"not a DICOM Part 10 file: {e.Message}");
        }

        var header = file.Dataset;
        var sopClass = header.GetStringOrDefault(DicomTag.SOPClassUID);
        var sopInstance = header.GetStringOrDefault(DicomTag.SOPInstanceUID);
        if (!DicomUID.IsValid(sopInstance) || !DicomUID.IsValid(header.GetStringOrDefault(DicomTag.StudyInstanceUID)) || !DicomUID.IsValid(header.GetStringOrDefault(DicomTag.SeriesInstanceUID)))
            return new Part(temp, header, "", CannotUnderstand, "its SOP Instance, Study or Series Instance UID is missing or invalid");
        if (!DicomUID.Lookup(sopClass).IsImageStorage)
            return new Part(temp, header, "", SopClassNotSupported, $"SOP class '{sopClass}' is not a storage SOP class");
        return new Part(temp, header, file.TransferSyntax.UID.UID, null, "");
    }

    /// <summary>Renames the checked file into its place and commits its index row durably (the STOW answer depends on it).</summary>
    private async Task PlaceAsync(HttpContext context, Part part, CancellationToken ct)
    {
        var header = part.Header!;
        var uid = header.GetString(DicomTag.SOPInstanceUID);
        var path = files.PathOf(uid);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.Move(part.TempPath, path, overwrite: true);
        var caller = context.Connection.RemoteIpAddress?.ToString() ?? "";
        var record = GatewayStoreHandler.Describe(header, path, new FileInfo(path).Length, part.TransferSyntax, "STOW-RS " + caller, "",
            DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), derived: false, route: null);
        await index.UpsertInstanceAsync(record, ct).ConfigureAwait(false);
        await index.Database.MakeCommitsDurableAsync(ct).ConfigureAwait(false);
        GatewayLog.Stored(logger, record.SopInstanceUid, record.StudyInstanceUid, record.SeriesInstanceUid, record.CallingAeTitle);
    }

    private static DicomDataset Reference(DicomDataset header) => new DicomDataset()
        .AddOrUpdate(DicomTag.ReferencedSOPClassUID, header.GetStringOrDefault(DicomTag.SOPClassUID))
        .AddOrUpdate(DicomTag.ReferencedSOPInstanceUID, header.GetStringOrDefault(DicomTag.SOPInstanceUID));

    private string InstanceUrl(DicomDataset h) => string.Create(CultureInfo.InvariantCulture,
        $"{baseUrl}/studies/{h.GetString(DicomTag.StudyInstanceUID)}/series/{h.GetString(DicomTag.SeriesInstanceUID)}/instances/{h.GetString(DicomTag.SOPInstanceUID)}");

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // A temporary file left behind starts with a dot and is never taken for an instance.
        }
    }
}
