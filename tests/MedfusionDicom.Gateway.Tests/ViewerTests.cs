using System.Buffers.Binary;
using System.Net;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Tests.Fixtures;
using MedfusionDicom.Gateway.Storage;
using Microsoft.Playwright;
using SkiaSharp;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>OHIF, as the gateway serves it at /viewer/, in Debian's chromium driven by Playwright.</summary>
public sealed class ViewerTests
{
    private const int Size = 128;

    /// <summary>Where the screenshots go: TestResults/viewer of the repository, kept by CI as artefacts.</summary>
    private static string Artefacts { get; } = Directory.CreateDirectory(Path.Combine(GatewayRun.RepoRoot, "TestResults", "viewer")).FullName;

    [Fact]
    public async Task A_DX_study_denoised_by_the_gateway_opens_in_OHIF_with_both_series_and_the_derived_one_renders()
    {
        await using var gateway = await DicomWebPeers.StartGatewayAsync(o => o.Routes[0].Match = new() { ["Modality"] = ["DX"] });
        var source = Path.Combine(gateway.Dir.Path, "dx.dcm");
        await new DicomFile(XRayFixtures.XRay(dx: true, Size, Phantom(), study: "viewer")).SaveAsync(source);
        Assert.Equal(0, (await gateway.StoreScuAsync([source])).ExitCode);
        await gateway.WaitForJobsAsync(j => j.Count == 1 && j[0].State == JobState.Done, TimeSpan.FromMinutes(2));

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        var console = new List<string>();
        page.Console += (_, m) => { lock (console) console.Add($"{m.Type}: {m.Text}"); };
        page.Response += (_, r) => { if (r.Status >= 400) lock (console) console.Add($"HTTP {r.Status}: {r.Url}"); };
        var viewer = ViewerUrl(gateway);
        try
        {
            var response = await page.GotoAsync(viewer);
            Assert.Equal(200, response!.Status);
            Assert.Equal("require-corp", await response.HeaderValueAsync("cross-origin-embedder-policy"));
            Assert.True(await page.EvaluateAsync<bool>("() => window.crossOriginIsolated"), "the page is not cross-origin isolated");

            // The study list: the study is there; opening it lists its modes, and the basic viewer opens it.
            var row = page.GetByText("TEST, XRAY");
            await row.First.ClickAsync(new LocatorClickOptions { Timeout = 60_000 });
            await page.GetByText("Basic Viewer", new PageGetByTextOptions { Exact = true }).First.ClickAsync(new LocatorClickOptions { Timeout = 30_000 });

            // Both series in the study browser: the DX and its denoised series.
            var labels = page.Locator("[data-cy='series-description-label']");
            await Expect(async () => Assert.Equal(2, await labels.CountAsync()), TimeSpan.FromSeconds(60));
            var texts = await labels.AllInnerTextsAsync();
            Assert.Contains(texts, t => t.Contains("denoise", StringComparison.OrdinalIgnoreCase));

            // OHIF's tour for first-time users covers the page until it is skipped.
            var skip = page.GetByText("Skip all", new PageGetByTextOptions { Exact = true });
            await Expect(async () => Assert.True(await skip.IsVisibleAsync()), TimeSpan.FromSeconds(20));
            await skip.ClickAsync();

            // The hanging protocol shows the DX first. The derived series goes into the viewport with a double click,
            // and its canvas renders: not one flat colour, and not the image that was there before.
            var canvas = page.Locator("[data-cy='viewport-pane'] canvas").First;
            byte[] before = [];
            await Expect(async () => Assert.True(Spread(before = await canvas.ScreenshotAsync()) > 10, "the DX is not rendered"), TimeSpan.FromSeconds(60));
            await labels.Filter(new LocatorFilterOptions { HasText = "denoise" }).First.DblClickAsync();
            await Expect(async () =>
            {
                var after = await canvas.ScreenshotAsync();
                var spread = Spread(after);
                var change = MeanDifference(before, after);
                Assert.True(spread > 10 && change > 1, $"the derived series is not rendered: standard deviation {spread:F1}, change from the DX {change:F2}");
                Assert.Contains("denoise", await page.Locator("[data-cy='viewport-overlay-top-left']").First.InnerTextAsync(), StringComparison.Ordinal);
            }, TimeSpan.FromSeconds(60));
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Artefacts, "derived-series.png") });
        }
        catch
        {
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Artefacts, "failure.png") });
            await File.WriteAllLinesAsync(Path.Combine(Artefacts, "failure-console.txt"), console);
            throw;
        }
    }

    [Fact]
    public async Task Deep_links_get_the_app_page_missing_files_a_404_and_the_config_names_this_gateway()
    {
        await using var gateway = await DicomWebPeers.StartGatewayAsync();
        using var http = new HttpClient();
        var viewer = ViewerUrl(gateway);

        var deep = await http.GetAsync(viewer + "viewer?StudyInstanceUIDs=1.2.3");
        Assert.Equal(HttpStatusCode.OK, deep.StatusCode);
        var page = await deep.Content.ReadAsStringAsync();
        Assert.Contains("window.PUBLIC_URL=\"/viewer/\"", page, StringComparison.Ordinal);
        Assert.DoesNotContain("src=\"/app", page, StringComparison.Ordinal);
        Assert.Equal("same-origin", deep.Headers.GetValues("Cross-Origin-Opener-Policy").Single());

        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(viewer + "no-such-bundle.js")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(viewer + "..%2F..%2Fappsettings.json")).StatusCode);

        var config = await http.GetStringAsync(viewer + "app-config.js");
        Assert.Contains("\"qidoRoot\": \"/dicomweb\"", config, StringComparison.Ordinal);
        Assert.Contains("\"supportsWildcard\": true", config, StringComparison.Ordinal);
        Assert.Contains("\"routerBasename\": \"/viewer\"", config, StringComparison.Ordinal);

        var bundle = Path.GetFileName(Directory.GetFiles(Path.Combine(GatewayRun.RepoRoot, "viewer", "ohif", "dist"), "app.bundle.*.js").Single());
        var script = await http.GetStringAsync(viewer + bundle);
        Assert.Contains("__webpack_require__.p = \"/viewer/\";", script, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_viewer_folder_without_OHIF_answers_503_and_the_gateway_still_serves_DICOMweb()
    {
        await using var gateway = await DicomWebPeers.StartGatewayAsync(o => o.DicomWeb.ViewerDirectory = "/nonexistent/ohif/dist");
        using var http = new HttpClient();

        var answer = await http.GetAsync(ViewerUrl(gateway));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.StatusCode);
        Assert.Contains("scripts/bootstrap", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(gateway.Options.DicomWeb.Url + "/studies")).StatusCode);
    }

    private static string ViewerUrl(GatewayRun gateway) => new Uri(new Uri(gateway.Service.DicomWebUrl!.ToString()), "/viewer/").ToString();

    /// <summary>A disc on a gradient, 12 bits stored, so that a rendered viewport is far from flat.</summary>
    private static byte[] Phantom()
    {
        var bytes = new byte[Size * Size * 2];
        for (var y = 0; y < Size; y++)
            for (var x = 0; x < Size; x++)
            {
                var inside = (x - 64) * (x - 64) + (y - 64) * (y - 64) < 40 * 40;
                var value = inside ? 3500 : 300 + 20 * x;
                BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * (y * Size + x)), (ushort)value);
            }

        return bytes;
    }

    /// <summary>The standard deviation of a screenshot's luminance.</summary>
    private static double Spread(byte[] png)
    {
        using var bitmap = SKBitmap.Decode(png);
        double sum = 0, squares = 0;
        var n = 0;
        for (var y = 0; y < bitmap.Height; y += 2)
            for (var x = 0; x < bitmap.Width; x += 2)
            {
                var l = Luminance(bitmap.GetPixel(x, y));
                sum += l;
                squares += l * l;
                n++;
            }

        var mean = sum / n;
        return Math.Sqrt(Math.Max(0, squares / n - mean * mean));
    }

    /// <summary>The mean absolute difference of two screenshots' luminance, over the pixels both have.</summary>
    private static double MeanDifference(byte[] a, byte[] b)
    {
        using var first = SKBitmap.Decode(a);
        using var second = SKBitmap.Decode(b);
        double sum = 0;
        var n = 0;
        for (var y = 0; y < Math.Min(first.Height, second.Height); y += 2)
            for (var x = 0; x < Math.Min(first.Width, second.Width); x += 2)
            {
                sum += Math.Abs(Luminance(first.GetPixel(x, y)) - Luminance(second.GetPixel(x, y)));
                n++;
            }

        return sum / n;
    }

    private static double Luminance(SKColor c) => 0.299 * c.Red + 0.587 * c.Green + 0.114 * c.Blue;

    /// <summary>Retries an assertion until it holds or the time is up; the last failure is the one reported.</summary>
    private static async Task Expect(Func<Task> assertion, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                await assertion();
                return;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(500);
            }
        }
    }
}
