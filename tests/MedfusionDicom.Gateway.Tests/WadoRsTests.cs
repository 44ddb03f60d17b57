using System.Net;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dimse.Tests;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>WADO-RS retrieve: the stored files as multipart/related, as stored or in the transfer syntax asked for.</summary>
public sealed class WadoRsTests
{
    private static async Task<List<(string Syntax, byte[] Bytes)>> PartsAsync(HttpResponseMessage answer, string partType = "application/dicom")
    {
        Assert.True(answer.IsSuccessStatusCode, $"{(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync()}");
        var multipart = MediaTypeHeaderValue.Parse(answer.Content.Headers.ContentType!.ToString());
        Assert.Equal("multipart/related", multipart.MediaType.Value);
        var reader = new MultipartReader(HeaderUtilities.RemoveQuotes(multipart.Boundary).Value!, await answer.Content.ReadAsStreamAsync());
        var parts = new List<(string, byte[])>();
        while (await reader.ReadNextSectionAsync() is { } section)
        {
            using var bytes = new MemoryStream();
            await section.Body.CopyToAsync(bytes);
            var type = MediaTypeHeaderValue.Parse(section.ContentType);
            Assert.Equal(partType, type.MediaType.Value);
            parts.Add((type.Parameters.SingleOrDefault(p => p.Name == "transfer-syntax")?.Value.Value ?? "", bytes.ToArray()));
        }

        return parts;
    }

    [Fact]
    public async Task A_series_comes_back_as_stored_with_transfer_syntax_star_and_in_Explicit_VR_Little_Endian_by_default()
    {
        await using var gateway = await DicomWebPeers.StartGatewayAsync();
        var files = TestSeries.Mr(gateway.Dir, 3);
        Assert.Equal(0, (await gateway.StoreScuAsync(files)).ExitCode);
        var mr = DicomFile.Open(files[0]).Dataset;
        var url = $"{gateway.Options.DicomWeb.Url}/studies/{mr.GetString(DicomTag.StudyInstanceUID)}/series/{mr.GetString(DicomTag.SeriesInstanceUID)}";
        using var http = new HttpClient();

        using var asStored = new HttpRequestMessage(HttpMethod.Get, url) { Headers = { { "Accept", "multipart/related; type=\"application/dicom\"; transfer-syntax=*" } } };
        var stored = await PartsAsync(await http.SendAsync(asStored));
        var indexed = (await gateway.Index.ListInstancesAsync(mr.GetString(DicomTag.SeriesInstanceUID))).ToList();
        Assert.Equal(indexed.Count, stored.Count);
        for (var k = 0; k < indexed.Count; k++) Assert.Equal(await File.ReadAllBytesAsync(indexed[k].Path), stored[k].Bytes); // byte for byte

        var byDefault = await PartsAsync(await http.GetAsync(url));
        Assert.All(byDefault, p => Assert.Equal(DicomTransferSyntax.ExplicitVRLittleEndian.UID.UID, p.Syntax));
        foreach (var (_, bytes) in byDefault)
        {
            var file = DicomFile.Open(new MemoryStream(bytes));
            Assert.Equal(DicomTransferSyntax.ExplicitVRLittleEndian, file.TransferSyntax);
            Assert.Contains(file.Dataset.GetString(DicomTag.SOPInstanceUID), indexed.Select(i => i.SopInstanceUid));
        }

        var one = await PartsAsync(await http.GetAsync($"{url}/instances/{indexed[1].SopInstanceUid}"));
        Assert.Single(one);

        using var xml = new HttpRequestMessage(HttpMethod.Get, url) { Headers = { { "Accept", "application/dicom+xml" } } };
        Assert.Equal(HttpStatusCode.NotAcceptable, (await http.SendAsync(xml)).StatusCode);
        using var jpeg = new HttpRequestMessage(HttpMethod.Get, url) { Headers = { { "Accept", "multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.4.50" } } };
        Assert.Equal(HttpStatusCode.NotAcceptable, (await http.SendAsync(jpeg)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"{gateway.Options.DicomWeb.Url}/studies/1.2.3.4.5.6")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync($"{gateway.Options.DicomWeb.Url}/studies/1.2.x")).StatusCode);
    }

    [Fact]
    public async Task Frames_of_a_multi_frame_instance_are_its_stored_bytes_frame_by_frame()
    {
        await using var gateway = await GatewayRun.StartAsync(o => o.DicomWeb.Url = $"http://127.0.0.1:{Tools.FreePort()}/dicomweb");
        var dose = Corpus.Pydicom("rtdose.dcm"); // 15 frames of 32-bit native pixel data
        Assert.Equal(0, (await gateway.StoreScuAsync([dose])).ExitCode);
        var ds = DicomFile.Open(dose).Dataset;
        var url = $"{gateway.Options.DicomWeb.Url}/studies/{ds.GetString(DicomTag.StudyInstanceUID)}/series/{ds.GetString(DicomTag.SeriesInstanceUID)}/instances/{ds.GetString(DicomTag.SOPInstanceUID)}";
        using var pixelStream = new MemoryStream();
        await using (var read = ((DicomElement)ds[DicomTag.PixelData]!).Buffer.OpenRead()) await read.CopyToAsync(pixelStream);
        var pixels = pixelStream.ToArray();
        var frame = pixels.Length / 15;
        using var http = new HttpClient();

        var parts = await PartsAsync(await http.GetAsync($"{url}/frames/2,15"), "application/octet-stream");

        Assert.Equal(2, parts.Count);
        Assert.Equal(pixels.AsSpan(frame, frame).ToArray(), parts[0].Bytes);
        Assert.Equal(pixels.AsSpan(14 * frame, frame).ToArray(), parts[1].Bytes);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"{url}/frames/16")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync($"{url}/frames/0,x")).StatusCode);
    }

    [Fact]
    public async Task Series_metadata_is_served_from_its_cache_entry_until_the_series_changes()
    {
        await using var gateway = await DicomWebPeers.StartGatewayAsync();
        var files = TestSeries.Mr(gateway.Dir, 3);
        Assert.Equal(0, (await gateway.StoreScuAsync(files)).ExitCode);
        var mr = DicomFile.Open(files[0]).Dataset;
        var url = $"{gateway.Options.DicomWeb.Url}/studies/{mr.GetString(DicomTag.StudyInstanceUID)}/series/{mr.GetString(DicomTag.SeriesInstanceUID)}/metadata";
        var cache = Path.Combine(gateway.Options.DataDirectory, ".cache", "metadata");
        using var http = new HttpClient();

        var first = await http.GetStringAsync(url);
        Assert.Equal(3, System.Text.Json.Nodes.JsonNode.Parse(first)!.AsArray().Count);
        var entry = Assert.Single(Directory.GetFiles(cache));
        Assert.Equal(first, await File.ReadAllTextAsync(entry));
        Assert.Equal(first, await http.GetStringAsync(url));
        // What is served is the entry: changed behind the server's back, the change shows.
        await File.WriteAllTextAsync(entry, "[]");
        Assert.Equal("[]", await http.GetStringAsync(url));

        // One more instance in the series: another version, built afresh; the old entry is gone.
        var more = DicomFile.Open(files[0]).Dataset.Clone();
        more.AddOrUpdate(DicomTag.SOPInstanceUID, DicomUID.Generate().UID).AddOrUpdate(DicomTag.InstanceNumber, "4");
        var path = Path.Combine(gateway.Dir.Sub("more"), "4.dcm");
        new DicomFile(more).Save(path);
        Assert.Equal(0, (await gateway.StoreScuAsync([path])).ExitCode);
        var after = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync(url))!.AsArray();
        Assert.Equal(4, after.Count);
        Assert.NotEqual(entry, Assert.Single(Directory.GetFiles(cache)));
        // Instance-level metadata is not cached; it is read from the file.
        var one = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync(url.Replace("/metadata", $"/instances/{more.GetString(DicomTag.SOPInstanceUID)}/metadata", StringComparison.Ordinal)))!.AsArray();
        Assert.Single(one);
    }

    [Fact]
    public async Task Invalid_UIDs_in_the_path_are_400_at_every_level_and_a_store_to_one_stores_nothing()
    {
        await using var gateway = await DicomWebPeers.StartGatewayAsync();
        var mr = TestSeries.Mr(gateway.Dir, 1)[0];
        Assert.Equal(0, (await gateway.StoreScuAsync([mr])).ExitCode);
        var ds = DicomFile.Open(mr).Dataset;
        string study = ds.GetString(DicomTag.StudyInstanceUID), series = ds.GetString(DicomTag.SeriesInstanceUID), sop = ds.GetString(DicomTag.SOPInstanceUID);
        using var http = new HttpClient();
        var root = gateway.Options.DicomWeb.Url;

        foreach (var bad in new[] { "1..2", "1.2.a", "01.2", new string('1', 65), "1.2%00" })
        {
            foreach (var path in new[]
                     {
                         $"studies/{bad}", $"studies/{study}/series/{bad}", $"studies/{study}/series/{series}/instances/{bad}", $"studies/{bad}/metadata",
                         $"studies/{study}/series/{bad}/metadata", $"studies/{study}/series/{series}/instances/{bad}/frames/1", $"studies/{bad}/series/{series}/instances/{sop}/rendered",
                         $"studies/{study}/series/{bad}/thumbnail", $"studies/{study}/series/{series}/instances/{bad}/bulkdata/7FE00010", $"studies/{bad}/series",
                     })
            {
                using var answer = await http.GetAsync($"{root}/{path}");
                Assert.True(answer.StatusCode == HttpStatusCode.BadRequest, $"{path}: {(int)answer.StatusCode}");
            }

            var body = new MultipartContent("related", "b");
            body.Add(new ByteArrayContent(await File.ReadAllBytesAsync(mr)) { Headers = { ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/dicom") } });
            using var stored = await http.PostAsync($"{root}/studies/{bad}", body);
            Assert.True(stored.StatusCode == HttpStatusCode.BadRequest, $"STOW to studies/{bad}: {(int)stored.StatusCode}");
        }

        Assert.Single(await gateway.Index.ListInstancesAsync());
    }

    [Theory]
    [InlineData("MR_small_RLE.dcm", "image/dicom-rle", "1.2.840.10008.1.2.5")]
    [InlineData("MR_small_jp2klossless.dcm", "image/jp2", "1.2.840.10008.1.2.4.90")]
    [InlineData("MR_small_jpeg_ls_lossless.dcm", "image/jls", "1.2.840.10008.1.2.4.80")]
    public async Task Compressed_frames_are_decoded_by_default_and_served_as_stored_when_asked_for(string file, string mediaType, string syntax)
    {
        await using var gateway = await DicomWebPeers.StartGatewayAsync();
        var path = Corpus.Pydicom(file);
        using var http = new HttpClient();
        var body = new MultipartContent("related", "b");
        body.Add(new ByteArrayContent(await File.ReadAllBytesAsync(path)) { Headers = { ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/dicom") } });
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync($"{gateway.Options.DicomWeb.Url}/studies", body)).StatusCode);
        var stored = Assert.Single(await gateway.Index.ListInstancesAsync());
        Assert.Equal(syntax, stored.TransferSyntaxUid); // STOW-RS keeps the file as it is
        var url = $"{gateway.Options.DicomWeb.Url}/studies/{stored.StudyInstanceUid}/series/{stored.SeriesInstanceUid}/instances/{stored.SopInstanceUid}/frames/1";
        async Task<HttpResponseMessage> Get(string? accept)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (accept is not null) request.Headers.TryAddWithoutValidation("Accept", accept);
            return await http.SendAsync(request);
        }

        // Decoded: the samples of the uncompressed original, MR_small.dcm.
        var native = ((DicomElement)DicomFile.Open(Corpus.Pydicom("MR_small.dcm")).Dataset[DicomTag.PixelData]!).Buffer;
        using var expected = new MemoryStream();
        await using (var read = native.OpenRead()) await read.CopyToAsync(expected);
        foreach (var accept in new string?[] { null, "multipart/related; type=\"application/octet-stream\"", "multipart/related; type=\"application/octet-stream\"; transfer-syntax=1.2.840.10008.1.2.1" })
        {
            var decoded = Assert.Single(await PartsAsync(await Get(accept), "application/octet-stream"));
            Assert.Equal(expected.ToArray(), decoded.Bytes);
        }

        // As stored: the frame's fragment, its part naming the transfer syntax.
        var source = DicomFile.Open(path).Dataset;
        var fragment = MedfusionDicom.Dicom.Imaging.DicomPixelData.Create(source).GetFrame(0).ToArray();
        var asStored = Assert.Single(await PartsAsync(await Get($"multipart/related; type=\"{mediaType}\""), mediaType));
        Assert.Equal(syntax, asStored.Syntax);
        Assert.Equal(fragment, asStored.Bytes);
        var any = Assert.Single(await PartsAsync(await Get("multipart/related; type=\"application/octet-stream\"; transfer-syntax=*"), "application/octet-stream"));
        Assert.Equal(syntax, any.Syntax);
        Assert.Equal(fragment, any.Bytes);

        // What cannot be met: another compressed type, or another syntax of the stored type.
        Assert.Equal(HttpStatusCode.NotAcceptable, (await Get("multipart/related; type=\"image/gif\"")).StatusCode);
        Assert.Equal(HttpStatusCode.NotAcceptable, (await Get($"multipart/related; type=\"{mediaType}\"; transfer-syntax=1.2.840.10008.1.2.4.91")).StatusCode);
    }
}
