using System.Net;
using System.Text.Json.Nodes;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dimse.Tests;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>QIDO-RS against Orthanc's DICOMweb plugin holding the same instances: the same searches, the same answers.</summary>
public sealed class QidoRsTests
{
    /// <summary>What servers may answer differently without either being wrong: the URLs point at each server, and availability and character sets are each server's own.</summary>
    private static readonly HashSet<string> ServerSpecific = ["00081190", "00080056", "00080005", "00081030"];

    private static Task<(GatewayRun Gateway, Orthanc Orthanc, IReadOnlyList<string> Files)> LoadBothAsync() => DicomWebPeers.LoadBothAsync();

    private static async Task<JsonArray> QueryAsync(HttpClient http, string url)
    {
        var answer = await http.GetAsync(url);
        Assert.True(answer.IsSuccessStatusCode, $"{url}: {(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync()}");
        var text = await answer.Content.ReadAsStringAsync();
        return text.Length == 0 ? [] : JsonNode.Parse(text)!.AsArray();
    }

    private static string Uid(JsonNode result, string tag) => result[tag]!["Value"]![0]!.GetValue<string>();

    /// <summary>Checks every attribute that this result and the peer's result for the same UID both give a value; returns how many.</summary>
    private static int CompareWithPeer(JsonNode result, JsonArray theirs, string key, string request)
    {
        var peer = theirs.Single(t => Uid(t!, key) == Uid(result, key))!.AsObject();
        var compared = 0;
        foreach (var (tag, value) in result.AsObject())
        {
            if (ServerSpecific.Contains(tag) || !peer.TryGetPropertyValue(tag, out var other) || other?["Value"] is null || value?["Value"] is null) continue;
            Assert.True(SameValues(value["Value"]!, other["Value"]!), $"{request}: {tag} is {value["Value"]!.ToJsonString()} here, {other["Value"]!.ToJsonString()} in Orthanc");
            compared++;
        }

        return compared;
    }

    /// <summary>Equal JSON, where a number is compared as a number: DS "0.8000" and Orthanc's 0.80000000000000004 are one value.</summary>
    private static bool SameValues(JsonNode a, JsonNode b) =>
        JsonNode.DeepEquals(a, b) || a is JsonArray x && b is JsonArray y && x.Count == y.Count && x.Zip(y).All(p =>
            p.First is JsonValue u && p.Second is JsonValue v && u.GetValueKind() == System.Text.Json.JsonValueKind.Number
            && v.GetValueKind() == System.Text.Json.JsonValueKind.Number && Math.Abs(u.GetValue<double>() - v.GetValue<double>()) <= 1e-9 * Math.Max(1, Math.Abs(v.GetValue<double>())));

    [Fact]
    public async Task Searches_at_every_level_answer_as_Orthanc_does_for_every_attribute_both_return()
    {
        var (gateway, orthanc, files) = await LoadBothAsync();
        await using var _ = gateway;
        await using var __ = orthanc;
        using var http = new HttpClient();
        var mr = DicomFile.Open(files[0]).Dataset;
        var (study, series, patient) = (mr.GetString(DicomTag.StudyInstanceUID), mr.GetString(DicomTag.SeriesInstanceUID), mr.GetString(DicomTag.PatientID));
        string[] queries =
        [
            "studies", $"studies?PatientID={patient}", $"studies?00100020={patient}", "studies?StudyDate=19000101-20991231", "studies?ModalitiesInStudy=CT",
            $"studies?PatientName={Uri.EscapeDataString(mr.GetString(DicomTag.PatientName)[..3])}*", "series?Modality=MR", $"studies/{study}/series",
            $"studies/{study}/series/{series}/instances", $"studies/{study}/instances", "instances?SOPClassUID=1.2.840.10008.5.1.4.1.1.2",
            "studies?PatientSex=F", "studies?StudyID=1CT1",
        ];
        var compared = 0;
        foreach (var query in queries)
        {
            var ours = await QueryAsync(http, $"{gateway.Options.DicomWeb.Url}/{query}");
            var theirs = await QueryAsync(http, $"{orthanc.DicomWebUrl}/{query}");
            var key = query.Contains("instances", StringComparison.Ordinal) ? "00080018" : query.StartsWith("series", StringComparison.Ordinal) || query.EndsWith("/series", StringComparison.Ordinal) ? "0020000E" : "0020000D";
            Assert.True(ours.Count > 0, $"{query}: no results");
            Assert.Equal(theirs.Select(r => Uid(r!, key)).Order(), ours.Select(r => Uid(r!, key)).Order());
            foreach (var result in ours) compared += CompareWithPeer(result!, theirs, key, query);
        }

        Assert.True(compared > 50, $"only {compared} values compared");
    }

    [Fact]
    public async Task Limit_offset_and_unsupported_parameters_behave_and_bad_values_are_400()
    {
        var (gateway, orthanc, _) = await LoadBothAsync();
        await using var _g = gateway;
        await using var _o = orthanc;
        using var http = new HttpClient();
        var root = gateway.Options.DicomWeb.Url;

        var all = await QueryAsync(http, $"{root}/instances");
        var page = await QueryAsync(http, $"{root}/instances?limit=2&offset=1");
        Assert.Equal(4, all.Count);
        Assert.Equal(all.Skip(1).Take(2).Select(r => Uid(r!, "00080018")), page.Select(r => Uid(r!, "00080018")));

        var ignored = await http.GetAsync($"{root}/studies?fuzzymatching=true&EthnicGroup=X");
        Assert.Equal(HttpStatusCode.OK, ignored.StatusCode);
        Assert.Contains("not acted on: EthnicGroup\"", ignored.Headers.GetValues("Warning").Single(), StringComparison.Ordinal);

        foreach (var bad in new[] { "studies?StudyDate=2020'; DROP TABLE instances;--", "studies?StudyInstanceUID=1.2.x", "series?SeriesNumber=one",
                     "studies?limit=-1", "studies/1..2/series", $"studies?PatientID={new string('A', 2_000)}", "studies?PatientID=%00",
                     "studies?includefield=NoSuchKeyword", "studies?includefield=0008003", "studies?fuzzymatching=yes" })
            Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync($"{root}/{bad}")).StatusCode);
        Assert.Equal(HttpStatusCode.RequestUriTooLong, (await http.GetAsync($"{root}/studies?PatientID={new string('A', 10_000)}")).StatusCode); // Kestrel's own limit
        using var xml = new HttpRequestMessage(HttpMethod.Get, $"{root}/studies") { Headers = { { "Accept", "application/dicom+xml" } } };
        Assert.Equal(HttpStatusCode.NotAcceptable, (await http.SendAsync(xml)).StatusCode);
        Assert.Equal(4, (await QueryAsync(http, $"{root}/instances")).Count); // nothing was dropped
    }

    [Fact]
    public async Task Series_metadata_agrees_with_Orthancs_and_its_BulkDataURIs_give_the_pixel_data()
    {
        var (gateway, orthanc, files) = await LoadBothAsync();
        await using var _g = gateway;
        await using var _o = orthanc;
        using var http = new HttpClient();
        var mr = DicomFile.Open(files[0]).Dataset;
        var path = $"studies/{mr.GetString(DicomTag.StudyInstanceUID)}/series/{mr.GetString(DicomTag.SeriesInstanceUID)}/metadata";

        var ours = await QueryAsync(http, $"{gateway.Options.DicomWeb.Url}/{path}");
        var theirs = await QueryAsync(http, $"{orthanc.DicomWebUrl}/{path}");

        Assert.Equal(3, ours.Count);
        var compared = 0;
        foreach (var result in ours)
        {
            compared += CompareWithPeer(result!, theirs, "00080018", path);

            var bulk = result!["7FE00010"]!["BulkDataURI"]!.GetValue<string>();
            var answer = await http.GetAsync(bulk);
            Assert.True(answer.IsSuccessStatusCode, bulk);
            var source = DicomFile.Open(files.Single(f => DicomFile.Open(f).Dataset.GetString(DicomTag.SOPInstanceUID) == Uid(result, "00080018"))).Dataset;
            var pixels = ((DicomElement)source[DicomTag.PixelData]!).Buffer;
            using var expected = new MemoryStream();
            await using (var read = pixels.OpenRead()) await read.CopyToAsync(expected);
            var type = Microsoft.Net.Http.Headers.MediaTypeHeaderValue.Parse(answer.Content.Headers.ContentType!.ToString());
            var reader = new Microsoft.AspNetCore.WebUtilities.MultipartReader(Microsoft.Net.Http.Headers.HeaderUtilities.RemoveQuotes(type.Boundary).Value!, await answer.Content.ReadAsStreamAsync());
            using var got = new MemoryStream();
            await (await reader.ReadNextSectionAsync())!.Body.CopyToAsync(got);
            Assert.Equal(expected.ToArray(), got.ToArray());
        }

        Assert.True(compared > 60, $"only {compared} values compared");
    }

    [Fact]
    public async Task Includefield_reads_attributes_beyond_the_index_from_the_files_and_all_leaves_out_bulk_data()
    {
        var (gateway, orthanc, files) = await LoadBothAsync();
        await using var _g = gateway;
        await using var _o = orthanc;
        using var http = new HttpClient();
        var root = gateway.Options.DicomWeb.Url;
        var mr = DicomFile.Open(files[0]).Dataset;
        var sop = mr.GetString(DicomTag.SOPInstanceUID);

        // By keyword and by tag, repeated and comma-separated: the file's values, and Orthanc's.
        var request = $"instances?SOPInstanceUID={sop}&includefield=SliceThickness,00080008&includefield=RepetitionTime";
        var ours = Assert.Single(await QueryAsync(http, $"{root}/{request}"))!;
        Assert.Equal(mr.GetString(DicomTag.SliceThickness), ours["00180050"]!["Value"]![0]!.ToString());
        Assert.Equal(mr.GetValues<string>(DicomTag.ImageType), ours["00080008"]!["Value"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.True(CompareWithPeer(ours, await QueryAsync(http, $"{orthanc.DicomWebUrl}/{request}"), "00080018", request) >= 8);

        // A series attribute at the series level comes from the series' first instance.
        var series = Assert.Single(await QueryAsync(http, $"{root}/series?SeriesInstanceUID={mr.GetString(DicomTag.SeriesInstanceUID)}&includefield=Manufacturer"))!;
        Assert.Equal(mr.GetString(DicomTag.Manufacturer), series["00080070"]!["Value"]![0]!.GetValue<string>());

        // all: every attribute of the header, no pixel data.
        var all = Assert.Single(await QueryAsync(http, $"{root}/instances?SOPInstanceUID={sop}&includefield=all"))!.AsObject();
        foreach (var item in mr.Where(i => i.Tag.Group != 0x0002 && i.Tag.Value < DicomTag.PixelData.Value && i.Tag != DicomTag.SpecificCharacterSet))
            Assert.True(all.ContainsKey($"{item.Tag.Group:X4}{item.Tag.Element:X4}"), $"{item.Tag} is missing from includefield=all");
        Assert.False(all.ContainsKey("7FE00010"));
    }

    [Fact]
    public async Task Fuzzy_matching_finds_names_by_the_beginnings_of_their_words_where_Orthanc_matches_exactly()
    {
        var (gateway, orthanc, files) = await LoadBothAsync();
        await using var _g = gateway;
        await using var _o = orthanc;
        using var http = new HttpClient();
        var root = gateway.Options.DicomWeb.Url;
        var names = files.Select(f => DicomFile.Open(f).Dataset.GetString(DicomTag.PatientName)).Distinct().ToList();
        Assert.Equal(["CompressedSamples^MR1", "CompressedSamples^CT1"], names);

        Assert.Equal(2, (await QueryAsync(http, $"{root}/studies?PatientName=compressed&fuzzymatching=true")).Count);
        Assert.Single(await QueryAsync(http, $"{root}/studies?PatientName=mr%20COMPRESSEDSAMP&fuzzymatching=true"));
        Assert.Empty(await QueryAsync(http, $"{root}/studies?PatientName=samples&fuzzymatching=true")); // not the beginning of a word
        Assert.Empty(await QueryAsync(http, $"{root}/studies?PatientName=compressed")); // without it, single value matching

        // The listed difference. PS3.18 §8.3.4.1: fuzzymatching=true asks for fuzzy semantic matching of person names,
        // which Orthanc's DICOMweb plugin does not do: it matches the value as it would without the parameter.
        Assert.Empty(await QueryAsync(http, $"{orthanc.DicomWebUrl}/studies?PatientName=compressed&fuzzymatching=true"));
    }
}
