using System.Globalization;
using System.Text.RegularExpressions;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Json;
using MedfusionDicom.Gateway.Storage;
using Microsoft.AspNetCore.Http;

namespace MedfusionDicom.Gateway.DicomWeb;

/// <summary>
/// QIDO-RS (PS3.18 §10.6) on the index: studies, series and instances, each level also under its parents. Keys are
/// the indexed attributes (<see cref="IndexQuery.Keys"/>), by keyword or tag, matched as PS3.4 C.2.2.2 says: UID
/// lists, single values with * and ? wildcards, date ranges. limit and offset page the results. A parameter that
/// this build does not act on (another attribute, includefield, fuzzymatching) is named in a Warning header.
/// Results are application/dicom+json; a value that is not valid for its key is a 400, and a request that accepts no
/// JSON a 406.
/// </summary>
public sealed partial class QidoRs(GatewayIndex index, Func<string> root)
{
    private const int DefaultLimit = 1000, MaxLimit = 10_000;

    /// <summary>Whether includefield is acted on (a viewer's config says so to its client).</summary>
    public const bool SupportsIncludeField = false;

    /// <summary>Whether fuzzymatching=true is acted on for person names.</summary>
    public const bool SupportsFuzzyMatching = false;

    public async Task HandleAsync(HttpContext context, QueryLevel level, string? study, string? series)
    {
        var accept = context.Request.Headers.Accept.ToString();
        if (accept.Length > 0 && !accept.Split(',').Any(a => a.Split(';')[0].Trim() is "application/dicom+json" or "application/json" or "*/*" or "application/*"))
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status406NotAcceptable, "QIDO-RS answers application/dicom+json").ConfigureAwait(false);
            return;
        }

        var filters = new List<(QueryKey, string)>();
        var ignored = new List<string>();
        int limit = DefaultLimit, offset = 0;
        foreach (var (name, values) in context.Request.Query)
        {
            var value = values.ToString();
            if (name == "limit" || name == "offset")
            {
                if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
                {
                    await DicomWebProblem.WriteAsync(context, StatusCodes.Status400BadRequest, $"{name} must be a whole number, not '{Shorten(value)}'").ConfigureAwait(false);
                    return;
                }

                if (name == "limit") limit = Math.Min(n, MaxLimit); else offset = n;
                continue;
            }

            var key = KeyOf(name);
            if (key is null || key.Level > level)
            {
                ignored.Add(name);
                continue;
            }

            if (Invalid(key, value) is { } why)
            {
                await DicomWebProblem.WriteAsync(context, StatusCodes.Status400BadRequest, $"{key.Keyword}: {why}").ConfigureAwait(false);
                return;
            }

            filters.Add((key, value));
        }

        if (study is not null) filters.Add((IndexQuery.Key("StudyInstanceUID")!, study));
        if (series is not null) filters.Add((IndexQuery.Key("SeriesInstanceUID")!, series));
        if (filters.Any(f => f.Item1.Kind == MatchKind.UidList && f.Item2.Split('\\', ',').Any(u => !DicomUID.IsValid(u.Trim()))))
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status400BadRequest, "a UID in the path or the query is not a valid UID").ConfigureAwait(false);
            return;
        }

        var rows = await index.SearchAsync(level, filters, limit, offset, context.RequestAborted).ConfigureAwait(false);
        if (ignored.Count > 0)
            context.Response.Headers.Append("Warning", $"299 medfusion-gateway: \"The following parameters were not acted on: {string.Join(", ", ignored.Select(Shorten))}\"");
        context.Response.ContentType = "application/dicom+json";
        // Kestrel allows no synchronous writes; a page of results (at most MaxLimit rows of indexed attributes) is small.
        using var buffer = new MemoryStream();
        DicomJsonWriter.WriteArray(buffer, rows.Select(r => Dataset(level, r)));
        buffer.Position = 0;
        await buffer.CopyToAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
    }

    private static QueryKey? KeyOf(string name)
    {
        if (IndexQuery.Key(name) is { } byKeyword) return byKeyword;
        if (name.Length == 8 && uint.TryParse(name, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var tag)
            && DicomDictionary.Default.TryGet(new DicomTag((ushort)(tag >> 16), (ushort)tag), out var entry))
            return IndexQuery.Key(entry.Keyword);
        return null;
    }

    private static string? Invalid(QueryKey key, string value) => key.Kind switch
    {
        _ when value.Length > 1024 => "the value is longer than 1024 characters",
        _ when value.Contains('\0', StringComparison.Ordinal) => "the value holds a NUL character",
        MatchKind.Number when !int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _) => $"'{Shorten(value)}' is not a number",
        MatchKind.DateRange when !DateRange().IsMatch(value) => $"'{Shorten(value)}' is not a date (YYYYMMDD) or a range of dates (A-B, -B, A-)",
        _ => null,
    };

    private DicomDataset Dataset(QueryLevel level, QueryRow row)
    {
        var dataset = new DicomDataset();
        foreach (var (keyword, value) in row.Values)
        {
            if (value is null || value is string { Length: 0 } || !DicomDictionary.Default.TryGetByKeyword(keyword, out var entry)) continue;
            var text = Convert.ToString(value, CultureInfo.InvariantCulture)!;
            dataset.AddOrUpdate(entry.Tag, entry.ValueRepresentation == DicomVR.CS ? text.Split('\\') : [text]);
        }

        var url = $"{root()}/studies/{row.Values["StudyInstanceUID"]}";
        if (level >= QueryLevel.Series) url += $"/series/{row.Values["SeriesInstanceUID"]}";
        if (level == QueryLevel.Instance) url += $"/instances/{row.Values["SOPInstanceUID"]}";
        return dataset.AddOrUpdate(DicomTag.RetrieveURL, url);
    }

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "...";

    [GeneratedRegex(@"^(\d{8})?-?(\d{8})?$")]
    private static partial Regex DateRange();
}
