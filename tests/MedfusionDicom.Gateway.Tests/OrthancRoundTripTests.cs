using System.Buffers.Binary;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Tests.Fixtures;
using MedfusionDicom.Diffusion.Data;
using MedfusionDicom.Diffusion.Evaluation;
using MedfusionDicom.Dimse.Tests;
using MedfusionDicom.Imaging;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>Orthanc is the PACS: it sends a DX study to the gateway and gets the denoised series back in the same study.</summary>
public sealed class OrthancRoundTripTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Count = 12;
    private const int MaxStored = 4095;

    [SharedDataFact]
    public async Task Orthanc_sends_a_noisy_DX_study_and_gets_back_a_valid_denoised_series_that_beats_the_median_filter()
    {
        using var data = CxrDataset.Open(Path.Combine(GatewayRun.RepoRoot, "..", "shared", "data", "cxr-pneumonia", "cxr128.npy"));
        var test = data.Split("test");
        var clean = Enumerable.Range(0, Count).Select(k => data.ReadImage(test[k * test.Count / Count].Index, IntensityNormalization.OfStoredRange)).ToList();
        var noisy = clean.Select((c, k) => Degradations.AddNoise(c, new Random(1000 + k))).ToList();

        await using var orthanc = new Orthanc();
        await using var gateway = await GatewayRun.StartAsync(o =>
        {
            o.Destinations = [new DestinationOptions { Name = "pacs", Host = "127.0.0.1", Port = orthanc.DicomPort, AeTitle = "ORTHANC" }];
            o.Routes[0].Match = new() { ["Modality"] = ["DX"] };
            o.Routes[0].Pipeline.Steps = 0; // the model's own settings, as in the model tests
            o.Routes[0].Destinations = ["pacs"];
        }, startDestination: false);
        await orthanc.StartAsync(new Dictionary<string, (string, int)> { ["gw"] = (gateway.Options.Dimse.AeTitle, gateway.Port) });

        string? study = null;
        var sources = new Dictionary<string, int>();
        for (var k = 0; k < Count; k++)
        {
            var dx = XRayFixtures.XRay(dx: true, data.Width, Stored(noisy[k]), study: "orthanc-round-trip", instanceNumber: k + 1);
            sources[dx.GetString(DicomTag.SOPInstanceUID)] = k;
            using var stream = new MemoryStream();
            await new DicomFile(dx).SaveAsync(stream);
            var uploaded = await orthanc.Http.PostAsync("instances", new ByteArrayContent(stream.ToArray()));
            Assert.True(uploaded.IsSuccessStatusCode, await uploaded.Content.ReadAsStringAsync());
            study = JsonNode.Parse(await uploaded.Content.ReadAsStringAsync())!["ParentStudy"]!.GetValue<string>();
        }

        var sent = await orthanc.Http.PostAsJsonAsync("modalities/gw/store", new Dictionary<string, object> { ["Resources"] = new[] { study! }, ["Synchronous"] = true });
        Assert.True(sent.IsSuccessStatusCode, await sent.Content.ReadAsStringAsync());
        JsonArray instances = [];
        await Tools.WaitForAsync(async () => (instances = JsonNode.Parse(await orthanc.Http.GetStringAsync($"studies/{study}/instances"))!.AsArray()).Count >= 2 * Count,
            TimeSpan.FromMinutes(5), $"{2 * Count} instances in Orthanc's study");

        double model = 0, median = 0;
        var derivedCount = 0;
        foreach (var instance in instances)
        {
            var bytes = await orthanc.Http.GetByteArrayAsync($"instances/{instance!["ID"]!.GetValue<string>()}/file");
            var path = Path.Combine(gateway.Dir.Path, instance!["ID"]!.GetValue<string>() + ".dcm");
            await File.WriteAllBytesAsync(path, bytes);
            var ds = (await DicomFile.OpenAsync(path)).Dataset;
            if (sources.ContainsKey(ds.GetString(DicomTag.SOPInstanceUID))) continue;
            derivedCount++;
            Assert.Equal(["DERIVED", "SECONDARY"], ds.GetString(DicomTag.ImageType).Split('\\')[..2]);
            var source = Assert.Single(ds.GetSequence(DicomTag.SourceImageSequence).Items).GetString(DicomTag.ReferencedSOPInstanceUID);
            Assert.True(sources.TryGetValue(source, out var k), $"{source} is not one of the sources");
            Assert.Empty(Dciodvfy.Run(path).ErrorsNotIn(new DciodvfyReport([], [])));
            var pixels = SourceImage.Open(ds).StoredValues(0);
            var result = new Image2D(data.Width, data.Height, pixels.Select(v => (float)(v * 2.0 / MaxStored - 1)).ToArray());
            model += ImageMetrics.Psnr(clean[k], result) / Count;
            median += ImageMetrics.Psnr(clean[k], ClassicBaselines.Median(Quantized(noisy[k]))) / Count;
        }

        output.WriteLine($"PSNR against the clean images: denoised through the gateway {model:F2} dB, median 3x3 of the noisy input {median:F2} dB");
        Assert.Equal(Count, derivedCount);
        Assert.True(model > median, $"denoised {model:F2} dB, median 3x3 {median:F2} dB");
    }

    /// <summary>An image in [-1, 1] as 12-bit stored values (16-bit little-endian).</summary>
    private static byte[] Stored(Image2D image)
    {
        var bytes = new byte[image.Data.Length * 2];
        for (var i = 0; i < image.Data.Length; i++)
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), (ushort)Math.Round((image.Data[i] + 1) / 2 * MaxStored));
        return bytes;
    }

    /// <summary>What the stored values say the noisy image is (the median filter sees what the model saw).</summary>
    private static Image2D Quantized(Image2D image) =>
        new(image.Width, image.Height, image.Data.Select(v => (float)(Math.Round((v + 1) / 2 * MaxStored) * 2.0 / MaxStored - 1)).ToArray());
}
