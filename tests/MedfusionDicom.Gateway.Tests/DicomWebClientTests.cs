using System.Text.Json;
using System.Text.Json.Nodes;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Imaging;
using MedfusionDicom.Dimse.Tests;
using Microsoft.Playwright;
using SkiaSharp;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>
/// dicomweb-client (npm, the DICOMweb library OHIF uses), in chromium on the gateway's own origin, against the gateway;
/// every answer is checked against the files that were sent.
/// </summary>
public sealed class DicomWebClientTests
{
    private static readonly string ClientScript = Path.Combine(GatewayRun.RepoRoot, "tests", "interop", "node", "node_modules", "dicomweb-client", "build", "dicomweb-client.js");

    // The client, and a base64 of an ArrayBuffer so that bytes can come back to the test.
    private const string Prelude = """
        window.client = new DICOMwebClient.api.DICOMwebClient({ url: window.location.origin + ROOT });
        window.b64 = buffer => {
          const bytes = new Uint8Array(buffer);
          let text = '';
          for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
          return btoa(text);
        };
        window.unb64 = text => Uint8Array.from(atob(text), c => c.charCodeAt(0)).buffer;
        """;

    [Fact]
    public async Task The_client_searches_retrieves_and_stores_and_every_answer_agrees_with_the_files()
    {
        await using var gateway = await DicomWebPeers.StartGatewayAsync();
        var mrFiles = TestSeries.Mr(gateway.Dir, 3);
        var ct = Corpus.Pydicom("CT_small.dcm");
        Assert.Equal(0, (await gateway.StoreScuAsync([.. mrFiles, ct])).ExitCode);
        var mr = mrFiles.Select(f => DicomFile.Open(f).Dataset).ToList();
        var ctSet = DicomFile.Open(ct).Dataset;
        string study = mr[0].GetString(DicomTag.StudyInstanceUID), series = mr[0].GetString(DicomTag.SeriesInstanceUID);
        var sops = mr.Select(d => d.GetString(DicomTag.SOPInstanceUID)).Order(StringComparer.Ordinal).ToList();

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var page = await browser.NewPageAsync();
        var root = new Uri(gateway.Options.DicomWeb.Url);
        await page.GotoAsync(new Uri(root, "/viewer/app-config.js").ToString()); // any page of the gateway's origin
        await page.AddScriptTagAsync(new PageAddScriptTagOptions { Path = ClientScript });
        await page.EvaluateAsync(Prelude.Replace("ROOT", JsonSerializer.Serialize(root.AbsolutePath.TrimEnd('/')), StringComparison.Ordinal));

        async Task<JsonArray> Search(string call) => JsonNode.Parse((await page.EvaluateAsync<JsonElement>($"async () => await client.{call}")).GetRawText())!.AsArray();
        static IEnumerable<string> Values(JsonArray results, string tag) => results.Select(r => r![tag]!["Value"]![0]!.ToString());

        // Studies: a wildcard, a date range, includefield; both studies, and each study's own values.
        var studies = await Search("searchForStudies({ queryParams: { PatientName: 'Compressed*', StudyDate: '19000101-20991231', includefield: ['00081030', 'StudyID'] } })");
        Assert.Equal(new[] { study, ctSet.GetString(DicomTag.StudyInstanceUID) }.Order(StringComparer.Ordinal), Values(studies, "0020000D").Order(StringComparer.Ordinal));
        var mrStudy = studies.Single(s => Values([s!.DeepClone()], "0020000D").Single() == study)!;
        Assert.Equal(mr[0].GetString(DicomTag.PatientName), mrStudy["00100010"]!["Value"]![0]!["Alphabetic"]!.GetValue<string>());
        Assert.Equal(mr[0].GetString(DicomTag.StudyDate), mrStudy["00080020"]!["Value"]![0]!.GetValue<string>());
        Assert.Equal("3", mrStudy["00201208"]!["Value"]![0]!.ToString()); // Number of Study Related Instances
        Assert.Empty(await Search("searchForStudies({ queryParams: { StudyDate: '20990101-' } })"));
        var secondStudy = await Search("searchForStudies({ queryParams: { PatientName: 'Compressed*', limit: 1, offset: 1 } })");
        Assert.Equal(Values(studies, "0020000D").Order(StringComparer.Ordinal).Skip(1), Values(secondStudy, "0020000D"));

        // Series of the study, by modality with a wildcard; instances of the series, paged with limit and offset.
        var seriesFound = await Search($"searchForSeries({{ studyInstanceUID: '{study}', queryParams: {{ Modality: 'M?' }} }})");
        Assert.Equal([series], Values(seriesFound, "0020000E"));
        Assert.Equal(mr[0].GetString(DicomTag.Modality), Values(seriesFound, "00080060").Single());
        var everySeries = await Search("searchForSeries({ queryParams: { Modality: '*', StudyDate: '-20991231', includefield: 'Manufacturer', limit: 1, offset: 1 } })");
        var seriesUids = new[] { series, ctSet.GetString(DicomTag.SeriesInstanceUID) }.Order(StringComparer.Ordinal).ToList();
        Assert.Equal([seriesUids[1]], Values(everySeries, "0020000E"));
        var manufacturer = (seriesUids[1] == series ? mr[0] : ctSet).GetString(DicomTag.Manufacturer);
        Assert.Equal(manufacturer, Values(everySeries, "00080070").Single());
        var allInstances = await Search("searchForInstances({ queryParams: { PatientName: 'Compressed?amples*', StudyDate: '19000101-20991231' } })");
        Assert.Equal(sops.Append(ctSet.GetString(DicomTag.SOPInstanceUID)).Order(StringComparer.Ordinal), Values(allInstances, "00080018").Order(StringComparer.Ordinal));
        var all = await Search($"searchForInstances({{ studyInstanceUID: '{study}', seriesInstanceUID: '{series}' }})");
        Assert.Equal(sops, Values(all, "00080018"));
        var paged = await Search($"searchForInstances({{ studyInstanceUID: '{study}', seriesInstanceUID: '{series}', queryParams: {{ limit: 2, offset: 1 }} }})");
        Assert.Equal(sops.Skip(1).Take(2), Values(paged, "00080018"));
        var withField = await Search($"searchForInstances({{ queryParams: {{ SOPInstanceUID: '{sops[0]}', includefield: 'SliceThickness' }} }})");
        Assert.Equal(mr.Single(d => d.GetString(DicomTag.SOPInstanceUID) == sops[0]).GetSingleValue<double>(DicomTag.SliceThickness),
            double.Parse(Values(withField, "00180050").Single(), System.Globalization.CultureInfo.InvariantCulture)); // DS is a JSON number

        // Metadata: one entry per instance, with the files' values and a BulkDataURI for the pixel data.
        var metadata = await Search($"retrieveSeriesMetadata({{ studyInstanceUID: '{study}', seriesInstanceUID: '{series}' }})");
        Assert.Equal(sops, Values(metadata, "00080018").Order(StringComparer.Ordinal));
        foreach (var entry in metadata)
        {
            var source = mr.Single(d => d.GetString(DicomTag.SOPInstanceUID) == Values([entry!.DeepClone()], "00080018").Single());
            Assert.Equal(source.GetSingleValue<ushort>(DicomTag.Rows).ToString(System.Globalization.CultureInfo.InvariantCulture), entry!["00280010"]!["Value"]![0]!.ToString());
            Assert.Equal(source.GetString(DicomTag.InstanceNumber), entry["00200013"]!["Value"]![0]!.ToString());
            Assert.NotNull(entry["7FE00010"]!["BulkDataURI"]);
        }

        // A frame: the stored pixel bytes. An instance: the file as sent.
        var first = mr.Single(d => d.GetString(DicomTag.SOPInstanceUID) == sops[0]);
        var firstFile = mrFiles.Single(f => DicomFile.Open(f).Dataset.GetString(DicomTag.SOPInstanceUID) == sops[0]);
        var ids = $"studyInstanceUID: '{study}', seriesInstanceUID: '{series}', sopInstanceUID: '{sops[0]}'";
        var frame = Convert.FromBase64String(await page.EvaluateAsync<string>($"async () => b64((await client.retrieveInstanceFrames({{ {ids}, frameNumbers: [1] }}))[0])"));
        Assert.Equal(PixelBytes(first), frame);
        var instance = Convert.FromBase64String(await page.EvaluateAsync<string>($"async () => b64(await client.retrieveInstance({{ {ids} }}))"));
        var retrieved = DicomFile.Open(new MemoryStream(instance)).Dataset;
        Assert.Equal(sops[0], retrieved.GetString(DicomTag.SOPInstanceUID));
        Assert.Equal(PixelBytes(first), PixelBytes(retrieved));
        Assert.Equal(first.GetString(DicomTag.PatientName), retrieved.GetString(DicomTag.PatientName));

        // A rendered PNG: the toolkit's rendering of the file through its own window, pixel for pixel.
        // The client hands a single image back as a one-part list.
        var png = Convert.FromBase64String(await page.EvaluateAsync<string>($"async () => b64((await client.retrieveInstanceRendered({{ {ids}, mediaTypes: [{{ mediaType: 'image/png' }}] }}))[0])"));
        var expected = DicomRenderer.Render(first, 0);
        using (var bitmap = SKBitmap.Decode(png))
        {
            Assert.Equal((expected.Width, expected.Height), (bitmap.Width, bitmap.Height));
            var differences = 0;
            for (var y = 0; y < bitmap.Height; y++)
                for (var x = 0; x < bitmap.Width; x++)
                    if (bitmap.GetPixel(x, y).Red != expected.Pixels[(y * expected.Width + x) * expected.Channels]) differences++;
            Assert.Equal(0, differences);
        }

        // STOW: a new instance goes in through the client, and comes back out of the index and QIDO as it was.
        var extra = first.Clone()
            .AddOrUpdate(DicomTag.SOPInstanceUID, DicomUID.FromName("dicomweb-client", "stow").UID)
            .AddOrUpdate(DicomTag.InstanceNumber, 99);
        using var bytes = new MemoryStream();
        await new DicomFile(extra).SaveAsync(bytes);
        await page.EvaluateAsync($"async () => await client.storeInstances({{ datasets: [unb64('{Convert.ToBase64String(bytes.ToArray())}')] }})");
        var stored = await gateway.Index.GetInstanceAsync(extra.GetString(DicomTag.SOPInstanceUID));
        Assert.NotNull(stored);
        Assert.Equal(PixelBytes(extra), PixelBytes(DicomFile.Open(stored.Path).Dataset));
        Assert.Equal(4, (await Search($"searchForInstances({{ studyInstanceUID: '{study}', seriesInstanceUID: '{series}' }})")).Count);
    }

    private static byte[] PixelBytes(DicomDataset dataset)
    {
        using var copy = new MemoryStream();
        using (var read = ((DicomElement)dataset[DicomTag.PixelData]!).Buffer.OpenRead()) read.CopyTo(copy);
        return copy.ToArray();
    }
}
