using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Imaging;
using MedfusionDicom.Dicom.Json;
using MedfusionDicom.Gateway.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace MedfusionDicom.Gateway.DicomWeb;

/// <summary>
/// WADO-RS retrieve (PS3.18 §10.4) of a study, a series or an instance as multipart/related application/dicom,
/// streamed file by file from disk. The transfer syntax is negotiated from Accept: transfer-syntax=* serves what is
/// stored; none asks for Explicit VR Little Endian (the standard's default); another is served when the stored one
/// is it, or by transcoding. What cannot be met is a 406, before any byte of the body is sent.
/// </summary>
public sealed class WadoRs(GatewayIndex index, Func<string> root, SeriesMetadataCache? cache = null)
{
    /// <summary>
    /// /metadata at each level: every instance's dataset as DICOM JSON, its top-level bulk values (Pixel Data and
    /// other binary elements) as BulkDataURIs to the bulkdata route, nested ones inline. Files are read one at a time.
    /// A series' answer is kept in <paramref name="cache"/> and served from there while the series is unchanged.
    /// </summary>
    public async Task MetadataAsync(HttpContext context, string study, string? series, string? instance)
    {
        if (await FindAsync(context, study, series, instance).ConfigureAwait(false) is not { } instances) return;
        context.Response.ContentType = "application/dicom+json";
        if (series is null || instance is not null || cache is null)
        {
            await WriteMetadataAsync(context.Response.Body, instances, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        var entry = await cache.GetOrBuildAsync(series, cache.PathOf(series, instances, root()), (stream, ct) => WriteMetadataAsync(stream, instances, ct),
            context.RequestAborted).ConfigureAwait(false);
        await using var file = new FileStream(entry, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        context.Response.ContentLength = file.Length;
        await file.CopyToAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
    }

    private async Task WriteMetadataAsync(Stream body, IReadOnlyList<InstanceRecord> instances, CancellationToken ct)
    {
        await body.WriteAsync("["u8.ToArray(), ct).ConfigureAwait(false);
        for (var k = 0; k < instances.Count; k++)
        {
            var i = instances[k];
            var url = $"{root()}/studies/{i.StudyInstanceUid}/series/{i.SeriesInstanceUid}/instances/{i.SopInstanceUid}";
            var dataset = (await DicomFile.OpenAsync(i.Path, cancellationToken: ct).ConfigureAwait(false)).Dataset;
            var options = new DicomJsonWriterOptions { BulkDataUri = bulk => bulk.Parents.Count == 0 ? $"{url}/bulkdata/{bulk.PathString}" : null };
            using var json = new MemoryStream();
            DicomJsonWriter.Write(json, dataset, options);
            if (k > 0) await body.WriteAsync(","u8.ToArray(), ct).ConfigureAwait(false);
            json.Position = 0;
            await json.CopyToAsync(body, ct).ConfigureAwait(false);
        }

        await body.WriteAsync("]"u8.ToArray(), ct).ConfigureAwait(false);
    }

    /// <summary>The bytes of a top-level bulk element (what a BulkDataURI names), as multipart/related application/octet-stream.</summary>
    public async Task BulkDataAsync(HttpContext context, string study, string series, string instance, string tag)
    {
        if (await FindAsync(context, study, series, instance).ConfigureAwait(false) is not [var found]) return;
        if (tag.Length != 8 || !uint.TryParse(tag, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out var value))
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status400BadRequest, $"'{tag}' is not a tag (8 hexadecimal digits)").ConfigureAwait(false);
            return;
        }

        var dataset = (await DicomFile.OpenAsync(found.Path, cancellationToken: context.RequestAborted).ConfigureAwait(false)).Dataset;
        if (dataset[new DicomTag((ushort)(value >> 16), (ushort)value)] is not DicomElement element)
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status404NotFound, $"the instance has no bulk element {tag}").ConfigureAwait(false);
            return;
        }

        var boundary = "medfusion-" + Guid.NewGuid().ToString("N");
        context.Response.ContentType = $"multipart/related; type=\"application/octet-stream\"; boundary={boundary}";
        var body = context.Response.Body;
        await body.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n"), context.RequestAborted).ConfigureAwait(false);
        await using (var bytes = element.Buffer.OpenRead()) await bytes.CopyToAsync(body, context.RequestAborted).ConfigureAwait(false);
        await body.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"\r\n--{boundary}--\r\n"), context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// Frames (1-based, comma-separated) of an instance with native pixel data, each as a part of
    /// multipart/related application/octet-stream: the frame's stored bytes, little endian, as PS3.18 §8.7.3.3.1 says.
    /// </summary>
    public async Task FramesAsync(HttpContext context, string study, string series, string instance, string list)
    {
        if (await FindAsync(context, study, series, instance).ConfigureAwait(false) is not [var found]) return;
        if (FrameNumbers(list) is not { } wanted)
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status400BadRequest, $"'{(list.Length > 64 ? list[..64] : list)}' is not a list of frame numbers (1, 2, ...)").ConfigureAwait(false);
            return;
        }

        var dataset = (await DicomFile.OpenAsync(found.Path, cancellationToken: context.RequestAborted).ConfigureAwait(false)).Dataset;
        if (dataset[DicomTag.PixelData] is DicomFragmentSequence)
        {
            await EncapsulatedFramesAsync(context, dataset, wanted).ConfigureAwait(false);
            return;
        }

        if (dataset[DicomTag.PixelData] is not DicomElement pixels)
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status404NotFound, "the instance has no pixel data").ConfigureAwait(false);
            return;
        }

        if (FrameMediaTypes.Negotiate(context.Request.Headers.Accept.ToString(), dataset.InternalTransferSyntax, encapsulated: false) is null)
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status406NotAcceptable, "the instance's frames are native: they are served as application/octet-stream").ConfigureAwait(false);
            return;
        }

        long frameBytes;
        try
        {
            frameBytes = (long)dataset.GetSingleValue<ushort>(DicomTag.Rows) * dataset.GetSingleValue<ushort>(DicomTag.Columns)
                * dataset.GetSingleValueOrDefault<ushort>(DicomTag.SamplesPerPixel, 1) * dataset.GetSingleValue<ushort>(DicomTag.BitsAllocated) / 8;
        }
        catch (DicomException e)
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status406NotAcceptable, $"the instance's image pixel attributes cannot be read: {e.Message}").ConfigureAwait(false);
            return;
        }

        var frameCount = int.TryParse(dataset.GetStringOrDefault(DicomTag.NumberOfFrames, "1").Trim(), out var declared) ? declared : 1;
        if (wanted.Any(f => f > frameCount) || frameBytes * frameCount > pixels.Length)
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status404NotFound, $"the instance has {frameCount} frame(s)").ConfigureAwait(false);
            return;
        }

        var boundary = "medfusion-" + Guid.NewGuid().ToString("N");
        context.Response.ContentType = $"multipart/related; type=\"application/octet-stream\"; boundary={boundary}";
        var body = context.Response.Body;
        var buffer = new byte[frameBytes];
        foreach (var frame in wanted)
        {
            await using (var read = pixels.Buffer.OpenRead())
            {
                read.Seek((frame - 1) * frameBytes, SeekOrigin.Begin);
                await read.ReadExactlyAsync(buffer, context.RequestAborted).ConfigureAwait(false);
            }

            await body.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n"), context.RequestAborted).ConfigureAwait(false);
            await body.WriteAsync(buffer, context.RequestAborted).ConfigureAwait(false);
            await body.WriteAsync("\r\n"u8.ToArray(), context.RequestAborted).ConfigureAwait(false);
        }

        await body.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"--{boundary}--\r\n"), context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// Frames of compressed pixel data: as stored (each part names its transfer syntax) when the Accept asks for that,
    /// else decoded to native samples. A frame is read and sent one at a time.
    /// </summary>
    private static async Task EncapsulatedFramesAsync(HttpContext context, DicomDataset dataset, IReadOnlyList<int> wanted)
    {
        DicomPixelData pixels;
        try
        {
            pixels = DicomPixelData.Create(dataset);
        }
        catch (DicomException e)
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status406NotAcceptable, $"the instance's image pixel attributes cannot be read: {e.Message}").ConfigureAwait(false);
            return;
        }

        if (wanted.Any(f => f > pixels.NumberOfFrames))
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status404NotFound, $"the instance has {pixels.NumberOfFrames} frame(s)").ConfigureAwait(false);
            return;
        }

        var stored = pixels.TransferSyntax;
        if (FrameMediaTypes.Negotiate(context.Request.Headers.Accept.ToString(), stored, encapsulated: true) is not { } answer)
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status406NotAcceptable,
                $"the frames are stored in {stored.UID.UID}: they are served as {FrameMediaTypes.Of(stored)} (as stored) or application/octet-stream (decoded)").ConfigureAwait(false);
            return;
        }

        var frames = new List<ReadOnlyMemory<byte>>();
        try
        {
            // A frame that cannot be decoded is found before the answer starts, so that it gets a status of its own.
            if (answer.Decode) foreach (var f in wanted) frames.Add(pixels.GetNativeFrame(f - 1).Data);
        }
        catch (DicomException e)
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status406NotAcceptable, $"the frames cannot be decoded here: {e.Message}").ConfigureAwait(false);
            return;
        }

        var boundary = "medfusion-" + Guid.NewGuid().ToString("N");
        var partType = answer.MediaType + (answer.TransferSyntax is { } ts ? $"; transfer-syntax={ts}" : "");
        context.Response.ContentType = $"multipart/related; type=\"{answer.MediaType}\"; boundary={boundary}";
        var body = context.Response.Body;
        for (var k = 0; k < wanted.Count; k++)
        {
            var bytes = answer.Decode ? frames[k] : pixels.GetFrame(wanted[k] - 1);
            await body.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"--{boundary}\r\nContent-Type: {partType}\r\n\r\n"), context.RequestAborted).ConfigureAwait(false);
            await body.WriteAsync(bytes, context.RequestAborted).ConfigureAwait(false);
            await body.WriteAsync("\r\n"u8.ToArray(), context.RequestAborted).ConfigureAwait(false);
        }

        await body.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"--{boundary}--\r\n"), context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>A path's frame list (1-based, comma-separated) as numbers; null when an entry is not a frame number.</summary>
    internal static List<int>? FrameNumbers(string list)
    {
        var numbers = new List<int>();
        foreach (var n in list.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(n, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var f) || f < 1) return null;
            numbers.Add(f);
        }
        return numbers;
    }

    /// <summary>The indexed instances of a study, series or instance; null (the answer already sent) for a bad UID or nothing found.</summary>
    internal static async Task<IReadOnlyList<InstanceRecord>?> FindAsync(GatewayIndex index, HttpContext context, string study, string? series, string? instance)
    {
        if (!DicomUID.IsValid(study) || series is not null && !DicomUID.IsValid(series) || instance is not null && !DicomUID.IsValid(instance))
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status400BadRequest, "a UID in the path is not a valid UID").ConfigureAwait(false);
            return null;
        }

        // One instance is looked up by its UID: a frame request must not list its whole series.
        var instances = instance is not null
            ? (await index.GetInstanceAsync(instance, context.RequestAborted).ConfigureAwait(false) is { } one && one.StudyInstanceUid == study
               && (series is null || one.SeriesInstanceUid == series) ? [one] : [])
            : await index.ListStudyInstancesAsync(study, series, context.RequestAborted).ConfigureAwait(false);
        if (instances.Count > 0) return instances;
        await DicomWebProblem.WriteAsync(context, StatusCodes.Status404NotFound, "no such study, series or instance").ConfigureAwait(false);
        return null;
    }

    private Task<IReadOnlyList<InstanceRecord>?> FindAsync(HttpContext context, string study, string? series, string? instance) =>
        FindAsync(index, context, study, series, instance);

    public async Task RetrieveAsync(HttpContext context, string study, string? series, string? instance)
    {
        if (Negotiate(context.Request.Headers.Accept.ToString()) is not { } wanted)
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status406NotAcceptable, "this route serves multipart/related; type=\"application/dicom\" (transfer-syntax=* or a transfer syntax UID)").ConfigureAwait(false);
            return;
        }

        if (await FindAsync(context, study, series, instance).ConfigureAwait(false) is not { } instances) return;

        DicomTransferSyntax? target = null;
        if (wanted != "*")
        {
            try
            {
                target = DicomTransferSyntax.Parse(wanted);
            }
            catch (DicomException)
            {
                await DicomWebProblem.WriteAsync(context, StatusCodes.Status406NotAcceptable, $"transfer syntax '{wanted}' is not one this server knows").ConfigureAwait(false);
                return;
            }

            if (instances.Any(i => i.TransferSyntaxUid != target.UID.UID) && target.IsEncapsulated)
            {
                await DicomWebProblem.WriteAsync(context, StatusCodes.Status406NotAcceptable, $"the instances are not stored in {target.UID.UID}, and this server does not compress").ConfigureAwait(false);
                return;
            }
        }

        var boundary = "medfusion-" + Guid.NewGuid().ToString("N");
        context.Response.ContentType = $"multipart/related; type=\"application/dicom\"; boundary={boundary}";
        var body = context.Response.Body;
        foreach (var i in instances)
        {
            var syntax = target is null || i.TransferSyntaxUid == target.UID.UID ? i.TransferSyntaxUid : target.UID.UID;
            await body.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"--{boundary}\r\nContent-Type: application/dicom; transfer-syntax={syntax}\r\n\r\n"), context.RequestAborted).ConfigureAwait(false);
            if (syntax == i.TransferSyntaxUid)
            {
                await using var file = new FileStream(i.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
                await file.CopyToAsync(body, context.RequestAborted).ConfigureAwait(false);
            }
            else
            {
                // Transcoding needs the dataset: one instance at a time, never the whole study.
                using var transcoded = new MemoryStream();
                (await DicomFile.OpenAsync(i.Path, cancellationToken: context.RequestAborted).ConfigureAwait(false)).Save(transcoded, target);
                transcoded.Position = 0;
                await transcoded.CopyToAsync(body, context.RequestAborted).ConfigureAwait(false);
            }

            await body.WriteAsync("\r\n"u8.ToArray(), context.RequestAborted).ConfigureAwait(false);
        }

        await body.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"--{boundary}--\r\n"), context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>The transfer syntax an Accept header asks for ("*" for as stored), or null when it accepts nothing this route serves.</summary>
    internal static string? Negotiate(string accept)
    {
        if (accept.Length == 0) return DicomTransferSyntax.ExplicitVRLittleEndian.UID.UID;
        foreach (var item in accept.Split(','))
        {
            if (!MediaTypeHeaderValue.TryParse(item.Trim(), out var media)) continue;
            var type = media.MediaType.Value;
            string? Param(string name) => media.Parameters.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))?.Value.Value?.Trim('"');
            if (type is "*/*" || type == "multipart/related" && Param("type") is null or "application/dicom" || type == "application/dicom")
                return Param("transfer-syntax") ?? DicomTransferSyntax.ExplicitVRLittleEndian.UID.UID;
        }

        return null;
    }
}
