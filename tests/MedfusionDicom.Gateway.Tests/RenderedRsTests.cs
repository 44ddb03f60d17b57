using System.Net;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dimse.Tests;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using SkiaSharp;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>WADO-RS rendered resources and thumbnails: PNG and JPEG through the window, against Orthanc's DICOMweb plugin.</summary>
public sealed class RenderedRsTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static async Task<(GatewayRun Gateway, Orthanc Orthanc, List<DicomDataset> Datasets)> LoadBothAsync()
    {
        // MR_small has a window (600, 1600); CT_small has none.
        var (gateway, orthanc, files) = await DicomWebPeers.LoadBothAsync();
        return (gateway, orthanc, files.Select(f => DicomFile.Open(f).Dataset).ToList());
    }

    private static string Path(DicomDataset ds) =>
        $"studies/{ds.GetString(DicomTag.StudyInstanceUID)}/series/{ds.GetString(DicomTag.SeriesInstanceUID)}/instances/{ds.GetString(DicomTag.SOPInstanceUID)}";

    private static async Task<(HttpResponseMessage Answer, SKBitmap Image)> GetImageAsync(HttpClient http, string url, string accept)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url) { Headers = { { "Accept", accept } } };
        var answer = await http.SendAsync(request);
        var bytes = await answer.Content.ReadAsByteArrayAsync();
        Assert.True(answer.IsSuccessStatusCode, $"{url}: {(int)answer.StatusCode} {System.Text.Encoding.UTF8.GetString(bytes)}");
        return (answer, SKBitmap.Decode(bytes) ?? throw new InvalidDataException($"{url}: not an image"));
    }

    /// <summary>Mean and largest difference of two grayscale images' luminance, which must have one size.</summary>
    private static (double Mean, int Max) Difference(SKBitmap a, SKBitmap b)
    {
        Assert.Equal((a.Width, a.Height), (b.Width, b.Height));
        long sum = 0;
        var max = 0;
        for (var y = 0; y < a.Height; y++)
        for (var x = 0; x < a.Width; x++)
        {
            var d = Math.Abs(a.GetPixel(x, y).Red - b.GetPixel(x, y).Red);
            sum += d;
            max = Math.Max(max, d);
        }
        return (sum / (double)(a.Width * a.Height), max);
    }

    [Fact]
    public async Task Rendered_instances_look_as_Orthanc_renders_them_through_the_same_window()
    {
        var (gateway, orthanc, datasets) = await LoadBothAsync();
        await using var g = gateway;
        await using var o = orthanc;
        using var http = new HttpClient();
        foreach (var (ds, window) in new[] { (datasets[0], "600,1600,linear"), (datasets[0], "300,400,linear"), (datasets[^1], "40,400,linear") })
        {
            var query = $"/{Path(ds)}/rendered?window={window}";
            var (ours, ourImage) = await GetImageAsync(http, gateway.Options.DicomWeb.Url + query, "image/png");
            Assert.Equal("image/png", ours.Content.Headers.ContentType!.MediaType);
            var (_, theirImage) = await GetImageAsync(http, orthanc.DicomWebUrl + query, "image/png");
            var (mean, max) = Difference(ourImage, theirImage);
            output.WriteLine($"{ds.GetString(DicomTag.Modality)} window {window}: mean |ours - Orthanc| {mean:0.000}, largest {max}");
            // The same window and function; only rounding may differ.
            Assert.True(mean < 0.5 && max <= 1, $"{ds.GetString(DicomTag.Modality)} window {window}: mean difference {mean:0.000}, largest {max}");
        }

        // Where we differ from Orthanc: without a window parameter we show an instance as its own VOI attributes say
        // (Window Center and Width, PS3.3 C.11.2), the presentation its creator chose; Orthanc's plugin stretches the
        // frame's range instead. MR_small gives 600 / 1600.
        var instance = $"/{Path(datasets[0])}/rendered";
        var (_, byDefault) = await GetImageAsync(http, gateway.Options.DicomWeb.Url + instance, "image/png");
        var (_, asItsWindow) = await GetImageAsync(http, gateway.Options.DicomWeb.Url + instance + "?window=600,1600,linear", "image/png");
        Assert.Equal((0.0, 0), Difference(byDefault, asItsWindow));
        var (_, orthancDefault) = await GetImageAsync(http, orthanc.DicomWebUrl + instance, "image/png");
        Assert.True(Difference(byDefault, orthancDefault).Mean > 10, "Orthanc now renders an instance through its own window by default: drop this difference from the list");
    }

    [Fact]
    public async Task Window_viewport_quality_frames_levels_and_thumbnails_follow_PS3_18_and_bad_parameters_are_4xx()
    {
        await using var gateway = await DicomWebPeers.StartGatewayAsync();
        var files = TestSeries.Mr(gateway.Dir, 3);
        Assert.Equal(0, (await gateway.StoreScuAsync(files)).ExitCode);
        var mr = DicomFile.Open(files[0]).Dataset;
        var root = gateway.Options.DicomWeb.Url;
        var instance = $"{root}/{Path(mr)}";
        using var http = new HttpClient();

        // JPEG by default; a viewport keeps the aspect and is the largest size that fits.
        var (jpeg, small) = await GetImageAsync(http, $"{instance}/rendered?viewport=32,16", "*/*");
        Assert.Equal("image/jpeg", jpeg.Content.Headers.ContentType!.MediaType);
        Assert.Equal((16, 16), (small.Width, small.Height));

        // A window given in the request replaces the instance's: everything below 100 black, above 150 white.
        var (_, windowed) = await GetImageAsync(http, $"{instance}/rendered?window=125,50,LINEAR_EXACT", "image/png");
        var modality = MedfusionDicom.Dicom.Imaging.DicomPixelData.Create(mr).ToFloat32(0).Data;
        for (var i = 0; i < modality.Length; i++)
        {
            var expected = modality[i] <= 100 ? 0 : modality[i] > 150 ? 255 : (int)Math.Round(255 * ((modality[i] - 125) / 50.0 + 0.5));
            Assert.Equal(expected, windowed.GetPixel(i % 64, i / 64).Red);
        }

        // A region of the frame: its top-left 32 x 32, scaled up to 64 x 64, is the frame's pixels, each shown twice.
        var (_, whole) = await GetImageAsync(http, $"{instance}/rendered", "image/png");
        var (_, region) = await GetImageAsync(http, $"{instance}/rendered?viewport=64,64,0,0,32,32", "image/png");
        Assert.Equal((64, 64), (region.Width, region.Height));
        Assert.Equal(whole.GetPixel(5, 7).Red, region.GetPixel(10, 14).Red);
        Assert.Equal(whole.GetPixel(5, 7).Red, region.GetPixel(11, 15).Red);

        // JPEG quality changes the size of what is sent.
        var low = await (await http.GetAsync($"{instance}/rendered?quality=5")).Content.ReadAsByteArrayAsync();
        var high = await (await http.GetAsync($"{instance}/rendered?quality=100")).Content.ReadAsByteArrayAsync();
        Assert.True(low.Length < high.Length, $"quality 5 gave {low.Length} bytes, 100 gave {high.Length}");

        // A frame, and a series as multipart/related, one image a part in instance order.
        await GetImageAsync(http, $"{instance}/frames/1/rendered", "image/png");
        using (var seriesRequest = new HttpRequestMessage(HttpMethod.Get, $"{root}/studies/{mr.GetString(DicomTag.StudyInstanceUID)}/series/{mr.GetString(DicomTag.SeriesInstanceUID)}/rendered")
               { Headers = { { "Accept", "multipart/related; type=\"image/png\"" } } })
        {
            var answer = await http.SendAsync(seriesRequest);
            Assert.True(answer.IsSuccessStatusCode);
            var multipart = MediaTypeHeaderValue.Parse(answer.Content.Headers.ContentType!.ToString());
            var reader = new MultipartReader(HeaderUtilities.RemoveQuotes(multipart.Boundary).Value!, await answer.Content.ReadAsStreamAsync());
            var parts = 0;
            while (await reader.ReadNextSectionAsync() is { } section)
            {
                Assert.Equal("image/png", section.ContentType);
                using var bytes = new MemoryStream();
                await section.Body.CopyToAsync(bytes);
                Assert.Equal((64, 64), (SKBitmap.Decode(bytes.ToArray()).Width, 64));
                parts++;
            }
            Assert.Equal(3, parts);
        }

        // Thumbnails: one image, shrunk to fit 128 x 128 (a 64 x 64 image stays as it is) unless a viewport says otherwise.
        var (_, thumbnail) = await GetImageAsync(http, $"{root}/studies/{mr.GetString(DicomTag.StudyInstanceUID)}/thumbnail", "image/jpeg");
        Assert.Equal((64, 64), (thumbnail.Width, thumbnail.Height));
        var (_, tiny) = await GetImageAsync(http, $"{root}/studies/{mr.GetString(DicomTag.StudyInstanceUID)}/series/{mr.GetString(DicomTag.SeriesInstanceUID)}/thumbnail?viewport=20,20", "image/png");
        Assert.Equal((20, 20), (tiny.Width, tiny.Height));

        // What is not supported is said, not refused; what is wrong is a 4xx with a reason.
        var warned = await http.GetAsync($"{instance}/rendered?annotation=patient");
        Assert.Equal(HttpStatusCode.OK, warned.StatusCode);
        Assert.Contains("annotation", warned.Headers.GetValues("Warning").Single(), StringComparison.Ordinal);
        foreach (var bad in new[] { "rendered?window=abc", "rendered?window=1,0", "rendered?viewport=0,0", "rendered?viewport=10", "rendered?quality=101",
                     "rendered?viewport=10,10,60,60,10,10", "frames/2/rendered", "frames/x/rendered", "rendered?window=1,1,CUBIC" })
        {
            var answer = await http.GetAsync($"{instance}/{bad}");
            Assert.True(answer.StatusCode == HttpStatusCode.BadRequest, $"{bad}: {(int)answer.StatusCode}");
            Assert.DoesNotContain("   at ", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using var pdf = new HttpRequestMessage(HttpMethod.Get, $"{instance}/rendered") { Headers = { { "Accept", "application/pdf" } } };
        Assert.Equal(HttpStatusCode.NotAcceptable, (await http.SendAsync(pdf)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"{root}/studies/1.2.3.4/rendered")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync($"{root}/studies/1.2.x/thumbnail")).StatusCode);
    }
}
