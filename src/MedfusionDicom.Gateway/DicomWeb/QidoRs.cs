using System.Globalization;
using System.Text.RegularExpressions;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.IO;
using MedfusionDicom.Dicom.Json;
using MedfusionDicom.Gateway.Storage;
using Microsoft.AspNetCore.Http;

namespace MedfusionDicom.Gateway.DicomWeb;

/// <summary>
/// QIDO-RS (PS3.18 §10.6) on the index: studies, series and instances, each level also under its parents. Keys are
/// the indexed attributes (<see cref="IndexQuery.Keys"/>), by keyword or tag, matched as PS3.4 C.2.2.2 says: UID
/// lists, single values with * and ? wildcards, date ranges, and person names fuzzily with fuzzymatching=true.
/// limit and offset page the results. includefield adds attributes that the index does not hold: they are read from
/// the header of the matching instance (at the instance level) or of the first instance of the series or study (for
/// series and study attributes, which every instance carries alike); "all" adds every attribute of an instance's
/// header except bulk data. A parameter that is not acted on (an attribute that is not a key) is named in a Warning header.
/// Results are application/dicom+json; a value that is not valid for its key is a 400, and a request that accepts no
/// JSON a 406.
/// </summary>
public sealed partial class QidoRs(GatewayIndex index, Func<string> root)
{
    private const int DefaultLimit = 1000, MaxLimit = 10_000;

    /// <summary>Whether includefield is acted on (a viewer's config says so to its client).</summary>
    public const bool SupportsIncludeField = true;

    /// <summary>Whether fuzzymatching=true is acted on for person names.</summary>
    public const bool SupportsFuzzyMatching = true;

    // An attribute of "all" whose value is larger than this is bulk data, which QIDO-RS does not return.
    private const int MaxIncludedBinaryBytes = 1024;

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
        var included = new IncludedFields();
        var fuzzy = false;
        foreach (var (name, values) in context.Request.Query)
        {
            var value = values.ToString();
            if (name == "includefield")
            {
                if (included.Add(values) is { } unknown)
                {
                    await DicomWebProblem.WriteAsync(context, StatusCodes.Status400BadRequest, $"includefield: '{Shorten(unknown)}' is neither a keyword, a tag (8 hex digits) nor all").ConfigureAwait(false);
                    return;
                }

                continue;
            }

            if (name == "fuzzymatching")
            {
                if (value is not ("true" or "false"))
                {
                    await DicomWebProblem.WriteAsync(context, StatusCodes.Status400BadRequest, $"fuzzymatching must be true or false, not '{Shorten(value)}'").ConfigureAwait(false);
                    return;
                }

                fuzzy = value == "true";
                continue;
            }

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

        var rows = await index.SearchAsync(level, filters, limit, offset, fuzzy, context.RequestAborted).ConfigureAwait(false);
        var results = new List<DicomDataset>(rows.Count);
        foreach (var row in rows)
        {
            var dataset = Dataset(level, row);
            if (included.BeyondIndex(dataset, level)) await IncludeFromFileAsync(dataset, level, row, included, context.RequestAborted).ConfigureAwait(false);
            results.Add(dataset);
        }

        if (ignored.Count > 0)
            context.Response.Headers.Append("Warning", $"299 medfusion-gateway: \"The following parameters were not acted on: {string.Join(", ", ignored.Select(Shorten))}\"");
        context.Response.ContentType = "application/dicom+json";
        // Kestrel allows no synchronous writes; a page of results (at most MaxLimit rows of indexed attributes) is small.
        using var buffer = new MemoryStream();
        DicomJsonWriter.WriteArray(buffer, results);
        buffer.Position = 0;
        await buffer.CopyToAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Adds the included attributes that <paramref name="dataset"/> lacks, from the header of the instance that represents its row.</summary>
    private async Task IncludeFromFileAsync(DicomDataset dataset, QueryLevel level, QueryRow row, IncludedFields included, CancellationToken ct)
    {
        var study = (string)row.Values["StudyInstanceUID"]!;
        var record = level switch
        {
            QueryLevel.Instance => await index.GetInstanceAsync((string)row.Values["SOPInstanceUID"]!, ct).ConfigureAwait(false),
            QueryLevel.Series => await index.FirstStudyInstanceAsync(study, (string)row.Values["SeriesInstanceUID"]!, ct).ConfigureAwait(false),
            _ => await index.FirstStudyInstanceAsync(study, null, ct).ConfigureAwait(false),
        };
        if (record is null) return; // deleted since the search: its row has the indexed attributes only

        var header = (await DicomFile.OpenAsync(record.Path, new DicomReaderOptions { StopBeforeTag = DicomTag.PixelData }, ct).ConfigureAwait(false)).Dataset;
        foreach (var item in header)
        {
            if (item.Tag.Group == 0x0002 || dataset.Contains(item.Tag) || item.Tag == DicomTag.SpecificCharacterSet) continue;
            var wanted = included.Tags.Contains(item.Tag) || (included.All && level == QueryLevel.Instance && !IsBulk(item));
            if (!wanted) continue;
            // Text is decoded in the file's character set and written again as text, so the answer needs no character set of its own.
            if (item is DicomElement element && item.ValueRepresentation.IsString)
                dataset.AddOrUpdate(item.ValueRepresentation, item.Tag, item.ValueRepresentation.IsMultiValueString ? header.GetValues<string>(item.Tag) : [header.GetString(item.Tag)]);
            else if (item is DicomElement or DicomSequence)
                dataset.AddOrUpdate(item.Clone());
        }
    }

    private static bool IsBulk(DicomItem item) => item switch
    {
        DicomElement e => !e.ValueRepresentation.IsString && e.Length > MaxIncludedBinaryBytes,
        DicomSequence => false,
        _ => true,
    };

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

    /// <summary>The includefield values of a request: tags by keyword or number, or all.</summary>
    private sealed class IncludedFields
    {
        public HashSet<DicomTag> Tags { get; } = [];
        public bool All { get; private set; }

        /// <summary>Adds the comma-separated lists of one or more includefield parameters; returns the first value that names no attribute.</summary>
        public string? Add(IEnumerable<string?> values)
        {
            foreach (var value in values.SelectMany(v => (v ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)))
            {
                if (value == "all") All = true;
                else if (DicomDictionary.Default.TryGetByKeyword(value, out var entry)) Tags.Add(entry.Tag);
                else if (value.Length == 8 && uint.TryParse(value, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var tag)) Tags.Add(new DicomTag((ushort)(tag >> 16), (ushort)tag));
                else return value;
            }

            return null;
        }

        /// <summary>Whether a result needs attributes that its row does not have.</summary>
        public bool BeyondIndex(DicomDataset result, QueryLevel level) => (All && level == QueryLevel.Instance) || Tags.Any(t => !result.Contains(t));
    }

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "...";

    [GeneratedRegex(@"^(\d{8})?-?(\d{8})?$")]
    private static partial Regex DateRange();
}
