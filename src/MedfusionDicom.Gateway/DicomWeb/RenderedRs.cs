using System.Globalization;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Imaging;
using MedfusionDicom.Gateway.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using SkiaSharp;

namespace MedfusionDicom.Gateway.DicomWeb;

/// <summary>
/// WADO-RS rendered resources and thumbnails (PS3.18 §8.3.5, §9.5, §9.6): frames shown through their window
/// (<see cref="DicomRenderer"/>) and encoded as JPEG (the default) or PNG with SkiaSharp. An instance or a single frame
/// is one image; a study, a series or a list of frames is multipart/related, one image a part, written as each is
/// rendered. A thumbnail is one image: a series' middle instance, a study's first series. Parameters: window
/// (center,width[,function]), viewport (vw,vh[,sx,sy,sw,sh]) and quality (1 to 100, JPEG); others get a Warning header.
/// </summary>
public sealed class RenderedRs(GatewayIndex index)
{
    /// <summary>The side a thumbnail fits when the request gives no viewport.</summary>
    public const int ThumbnailSize = 128;

    private static readonly string[] Known = ["window", "viewport", "quality"];

    private sealed record Request(DicomRenderOptions Options, SKEncodedImageFormat Format, int Quality);

    /// <summary>Rendered study, series, instance or frames (1-based list, null: the first frame of each instance).</summary>
    public async Task RenderedAsync(HttpContext context, string study, string? series, string? instance, string? frames)
    {
        if (await ParseAsync(context, thumbnail: false).ConfigureAwait(false) is not { } request) return;
        if (await FindAsync(context, study, series, instance).ConfigureAwait(false) is not { } instances) return;
        List<int>? numbers = null;
        if (frames is not null && (numbers = WadoRs.FrameNumbers(frames)) is null)
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status400BadRequest, $"'{(frames.Length > 64 ? frames[..64] : frames)}' is not a list of frame numbers (1, 2, ...)").ConfigureAwait(false);
            return;
        }

        var single = instance is not null && (numbers is null || numbers.Count == 1);
        var wanted = instances.SelectMany(i => (numbers ?? [1]).Select(f => (Instance: i, Frame: f - 1))).ToList();
        if (single)
        {
            if (await RenderAsync(context, wanted[0].Instance, wanted[0].Frame, request).ConfigureAwait(false) is { } image)
                await WriteImageAsync(context, image, request.Format).ConfigureAwait(false);
            return;
        }

        // The first image is rendered before the headers go, so that an instance that cannot be shown is a 4xx, not a truncated body.
        if (await RenderAsync(context, wanted[0].Instance, wanted[0].Frame, request).ConfigureAwait(false) is not { } first) return;
        var type = MediaType(request.Format);
        var boundary = "medfusion-" + Guid.NewGuid().ToString("N");
        context.Response.ContentType = $"multipart/related; type=\"{type}\"; boundary={boundary}";
        var body = context.Response.Body;
        for (var k = 0; k < wanted.Count; k++)
        {
            var image = k == 0 ? first : Encode(Render(await OpenAsync(wanted[k].Instance, context).ConfigureAwait(false), wanted[k].Frame, request), request);
            await body.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"--{boundary}\r\nContent-Type: {type}\r\n\r\n"), context.RequestAborted).ConfigureAwait(false);
            await body.WriteAsync(image, context.RequestAborted).ConfigureAwait(false);
            await body.WriteAsync("\r\n"u8.ToArray(), context.RequestAborted).ConfigureAwait(false);
        }

        await body.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"--{boundary}--\r\n"), context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>A thumbnail of a study, series, instance or frame: one image shrunk to fit <see cref="ThumbnailSize"/> unless a viewport is given.</summary>
    public async Task ThumbnailAsync(HttpContext context, string study, string? series, string? instance, string? frame)
    {
        if (await ParseAsync(context, thumbnail: true).ConfigureAwait(false) is not { } request) return;
        if (await FindAsync(context, study, series, instance).ConfigureAwait(false) is not { } instances) return;
        if ((frame is null ? [1] : WadoRs.FrameNumbers(frame)) is not [var number])
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status400BadRequest, "a thumbnail is of one frame: give one frame number").ConfigureAwait(false);
            return;
        }

        // The first series of the study (the index lists them in order), and its middle instance: what a series looks like.
        var firstSeries = instances[0].SeriesInstanceUid;
        var ofSeries = instances.Where(i => i.SeriesInstanceUid == firstSeries).OrderBy(i => i.InstanceNumber ?? 0).ToList();
        var shown = ofSeries[ofSeries.Count / 2];
        if (await RenderAsync(context, shown, number - 1, request).ConfigureAwait(false) is { } image)
            await WriteImageAsync(context, image, request.Format).ConfigureAwait(false);
    }

    /// <summary>The instances with images among those the path names; null (the answer already sent) when there are none.</summary>
    private async Task<IReadOnlyList<InstanceRecord>?> FindAsync(HttpContext context, string study, string? series, string? instance)
    {
        if (await WadoRs.FindAsync(index, context, study, series, instance).ConfigureAwait(false) is not { } found) return null;
        var images = found.Where(i => DicomUID.Lookup(i.SopClassUid).IsImageStorage).ToList();
        if (images.Count > 0) return images;
        await DicomWebProblem.WriteAsync(context, StatusCodes.Status404NotFound, "the study, series or instance holds no image").ConfigureAwait(false);
        return null;
    }

    private static async Task<DicomDataset> OpenAsync(InstanceRecord instance, HttpContext context) =>
        (await DicomFile.OpenAsync(instance.Path, cancellationToken: context.RequestAborted).ConfigureAwait(false)).Dataset;

    /// <summary>One frame rendered and encoded; null (a 4xx already sent) when the instance cannot be shown.</summary>
    private static async Task<byte[]?> RenderAsync(HttpContext context, InstanceRecord instance, int frame, Request request)
    {
        try
        {
            return Encode(Render(await OpenAsync(instance, context).ConfigureAwait(false), frame, request), request);
        }
        catch (DicomException ex)
        {
            // A frame past the end, a region outside it, or pixels this server cannot decode: the request cannot be met as asked.
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status400BadRequest, $"instance {instance.SopInstanceUid} cannot be rendered so: {ex.Message}").ConfigureAwait(false);
            return null;
        }
    }

    private static DicomRenderedFrame Render(DicomDataset dataset, int frame, Request request) => DicomRenderer.Render(dataset, frame, request.Options);

    private static byte[] Encode(DicomRenderedFrame frame, Request request)
    {
        var rgba = frame.Channels == 1 ? null : new byte[frame.Width * frame.Height * 4];
        if (rgba is not null)
        {
            for (var i = 0; i < frame.Width * frame.Height; i++)
            {
                rgba[4 * i] = frame.Pixels[3 * i];
                rgba[4 * i + 1] = frame.Pixels[3 * i + 1];
                rgba[4 * i + 2] = frame.Pixels[3 * i + 2];
                rgba[4 * i + 3] = 255;
            }
        }

        var info = new SKImageInfo(frame.Width, frame.Height, rgba is null ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var image = SKImage.FromPixelCopy(info, rgba ?? frame.Pixels) ?? throw new InvalidOperationException("SkiaSharp could not take the rendered pixels");
        using var encoded = image.Encode(request.Format, request.Quality) ?? throw new InvalidOperationException($"SkiaSharp could not encode {request.Format}");
        return encoded.ToArray();
    }

    private static async Task WriteImageAsync(HttpContext context, byte[] image, SKEncodedImageFormat format)
    {
        context.Response.ContentType = MediaType(format);
        context.Response.ContentLength = image.Length;
        await context.Response.Body.WriteAsync(image, context.RequestAborted).ConfigureAwait(false);
    }

    private static string MediaType(SKEncodedImageFormat format) => format == SKEncodedImageFormat.Png ? "image/png" : "image/jpeg";

    /// <summary>The request's media type and parameters; null (a 4xx already sent) when they cannot be met.</summary>
    private static async Task<Request?> ParseAsync(HttpContext context, bool thumbnail)
    {
        var query = context.Request.Query;
        var ignored = query.Keys.Where(k => !Known.Contains(k, StringComparer.OrdinalIgnoreCase)).ToList();
        if (ignored.Count > 0)
            context.Response.Headers.Append("Warning", $"299 medfusion \"{string.Join(", ", ignored.Select(k => k.Length > 32 ? k[..32] : k))}: not supported, ignored\"");
        if (Format(context.Request.Headers.Accept.ToString()) is not { } format)
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status406NotAcceptable, "rendered resources are served as image/jpeg or image/png").ConfigureAwait(false);
            return null;
        }

        try
        {
            ((int, int) Size, (int, int, int, int)? Region)? viewport = query.TryGetValue("viewport", out var v) ? Viewport(v.ToString()) : null;
            var options = new DicomRenderOptions
            {
                Window = query.TryGetValue("window", out var w) ? Window(w.ToString()) : null,
                Viewport = viewport?.Size ?? (thumbnail ? (ThumbnailSize, ThumbnailSize) : null),
                Region = viewport?.Region,
                // A thumbnail's own size makes a small image no larger; a viewport the client asks for is met.
                ShrinkOnly = thumbnail && !query.ContainsKey("viewport"),
            };
            var quality = query.TryGetValue("quality", out var q) ? Number(q.ToString(), "quality", 1, 100) : 90;
            return new Request(options, format, quality);
        }
        catch (DicomException ex)
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status400BadRequest, ex.Message).ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>window=center,width[,function] (PS3.18 §8.3.5.1.4); the function as (0028,1056) names it.</summary>
    private static DicomVoiWindow Window(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length is < 2 or > 3 || !double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var center)
            || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var width))
            throw new DicomCodecException($"window '{Clip(text)}' is not center,width[,function]");
        return new DicomVoiWindow(center, width, DicomVoiWindow.ParseFunction(parts.Length == 3 ? parts[2] : "")).Validated();
    }

    /// <summary>viewport=vw,vh[,sx,sy,sw,sh] (PS3.18 §8.3.5.1.3): the output's size at most, and the source region shown.</summary>
    private static ((int, int) Size, (int, int, int, int)? Region) Viewport(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length is not (2 or 6)) throw new DicomCodecException($"viewport '{Clip(text)}' is not vw,vh or vw,vh,sx,sy,sw,sh");
        var n = parts.Select((p, i) => Number(p, "viewport", i < 2 ? 1 : 0, ushort.MaxValue)).ToArray();
        return ((n[0], n[1]), parts.Length == 6 ? (n[2], n[3], n[4], n[5]) : null);
    }

    private static int Number(string text, string name, int min, int max) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new DicomCodecException($"{name} '{Clip(text)}' must be a whole number from {min} to {max}");

    private static string Clip(string text) => text.Length > 64 ? text[..64] : text;

    /// <summary>The image format an Accept header asks for: JPEG unless PNG comes first; null when it accepts neither.</summary>
    internal static SKEncodedImageFormat? Format(string accept)
    {
        if (accept.Length == 0) return SKEncodedImageFormat.Jpeg;
        foreach (var item in accept.Split(','))
        {
            if (!MediaTypeHeaderValue.TryParse(item.Trim(), out var media)) continue;
            var type = media.MediaType.Value;
            if (type == "multipart/related") type = media.Parameters.FirstOrDefault(p => p.Name.Equals("type", StringComparison.OrdinalIgnoreCase))?.Value.Value?.Trim('"') ?? "image/jpeg";
            switch (type)
            {
                case "image/png": return SKEncodedImageFormat.Png;
                case "image/jpeg" or "image/*" or "*/*": return SKEncodedImageFormat.Jpeg;
            }
        }

        return null;
    }
}
