// Issue 15's DICOMweb benchmark: our DICOMweb against Orthanc's DICOMweb plugin on the same machine, in one run, on
// the same data: the shared MR series and a 600-instance series made from it with new UIDs, in both servers. Each
// figure is a median over --reps requests; the ratio is Orthanc's time over ours (above 1: we are faster).
using System.Diagnostics;
using System.Globalization;
using MedfusionDicom.Dicom;
using static BenchSupport;

internal static class DicomWebBenchmark
{
    public sealed record Row(string What, double OursMs, double OrthancMs);

    public static async Task<IReadOnlyList<Row>> RunAsync(string seriesFolder, int reps, Func<int, string[], Task<double>> storescu)
    {
        var work = Directory.CreateTempSubdirectory("mfdwbench-").FullName;
        try
        {
            var source = Directory.GetFiles(seriesFolder, "*.dcm").Order(StringComparer.Ordinal).ToArray();
            var big = Big(Path.Combine(work, "big"), source, 600);
            var dimsePort = FreePort();
            var httpPort = FreePort();
            var data = Path.Combine(work, "data");
            var settings = Path.Combine(work, "gateway.json");
            File.WriteAllText(settings, $$"""
                { "Gateway": { "DataDirectory": "{{data}}", "Dimse": { "Port": {{dimsePort}} }, "DicomWeb": { "Url": "http://127.0.0.1:{{httpPort}}/dicomweb" },
                  "Storage": { "MinimumFreeMegabytes": 0 } } }
                """);
            using var gateway = Process.Start(StartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "medfusion.dll"), "gateway", "--config", settings]))!;
            _ = gateway.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
            _ = gateway.StandardError.BaseStream.CopyToAsync(Stream.Null);
            var (orthanc, orthancHttp, orthancDicom) = await StartOrthancAsync(work, new Dictionary<string, (string, int)>(), dicomWeb: true);
            try
            {
                using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
                var ours = $"http://127.0.0.1:{httpPort}/dicomweb";
                var theirs = $"{orthancHttp.BaseAddress}dicom-web";
                await WaitAsync(http, $"{ours}/studies");
                foreach (var set in new[] { source, big })
                {
                    await storescu(dimsePort, set);
                    await StorescuToAsync(orthancDicom, set);
                }

                var b = DicomFile.Open(big[0]).Dataset;
                var bigSeries = $"studies/{b.GetString(DicomTag.StudyInstanceUID)}/series/{b.GetString(DicomTag.SeriesInstanceUID)}";
                var rows = new List<Row>
                {
                    await CompareAsync("QIDO study search (`/studies?PatientName=*`)", http, ours, theirs, "studies?PatientName=*", reps),
                    await CompareAsync("QIDO series search (`/series?Modality=MR`)", http, ours, theirs, "series?Modality=MR", reps),
                };
                // First: the first request after the series arrived; cached: the ones after it.
                var firstOurs = await TimeAsync(http, $"{ours}/{bigSeries}/metadata");
                var firstTheirs = await TimeAsync(http, $"{theirs}/{bigSeries}/metadata");
                rows.Add(new Row("series /metadata, 600 instances, first request", firstOurs, firstTheirs));
                rows.Add(await CompareAsync("series /metadata, 600 instances, cached", http, ours, theirs, $"{bigSeries}/metadata", reps));
                var instances = big.Select(f => DicomFile.Open(f).Dataset.GetString(DicomTag.SOPInstanceUID)).ToList();
                var oursFrames = await FramesAsync(http, ours, bigSeries, instances);
                var theirFrames = await FramesAsync(http, theirs, bigSeries, instances);
                rows.Add(new Row($"all 600 frames of the series, one request each (ms for all; ours {600 / (oursFrames / 1000):0} frames/s, Orthanc {600 / (theirFrames / 1000):0})", oursFrames, theirFrames));
                return rows;
            }
            finally
            {
                gateway.Kill(entireProcessTree: true);
                orthanc.Kill(entireProcessTree: true);
                await gateway.WaitForExitAsync();
                await orthanc.WaitForExitAsync();
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Copies of the series' instances, cycled to <paramref name="count"/>, as one new series of one new study.</summary>
    private static string[] Big(string folder, string[] source, int count)
    {
        Directory.CreateDirectory(folder);
        var study = DicomUID.Generate().UID;
        var series = DicomUID.Generate().UID;
        return Enumerable.Range(0, count).Select(n =>
        {
            var copy = DicomFile.Open(source[n % source.Length]).Dataset.Clone().AddOrUpdate(DicomTag.StudyInstanceUID, study)
                .AddOrUpdate(DicomTag.SeriesInstanceUID, series).AddOrUpdate(DicomTag.SOPInstanceUID, DicomUID.Generate().UID)
                .AddOrUpdate(DicomTag.InstanceNumber, (n + 1).ToString(CultureInfo.InvariantCulture));
            var path = Path.Combine(folder, $"{n:D4}.dcm");
            new DicomFile(copy).Save(path);
            return path;
        }).ToArray();
    }

    private static async Task StorescuToAsync(int port, string[] files)
    {
        using var process = Process.Start(StartInfo("storescu", ["-aec", "ORTHANC", "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), .. files]))!;
        var errors = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException("storescu to Orthanc failed: " + await errors);
    }

    private static async Task WaitAsync(HttpClient http, string url)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if ((await http.GetAsync(url)).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) when (watch.Elapsed < TimeSpan.FromMinutes(2))
            {
            }
            await Task.Delay(200);
        }
    }

    private static async Task<double> TimeAsync(HttpClient http, string url)
    {
        var watch = Stopwatch.StartNew();
        using var answer = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
        if (!answer.IsSuccessStatusCode) throw new InvalidOperationException($"{url}: {(int)answer.StatusCode}");
        await (await answer.Content.ReadAsStreamAsync()).CopyToAsync(Stream.Null);
        return watch.Elapsed.TotalMilliseconds;
    }

    private static async Task<Row> CompareAsync(string what, HttpClient http, string ours, string theirs, string path, int reps)
    {
        var a = new List<double>();
        var b = new List<double>();
        for (var r = 0; r < reps; r++)
        {
            a.Add(await TimeAsync(http, $"{ours}/{path}"));
            b.Add(await TimeAsync(http, $"{theirs}/{path}"));
        }
        return new Row(what, Median(a), Median(b));
    }

    private static async Task<double> FramesAsync(HttpClient http, string root, string series, IReadOnlyList<string> instances)
    {
        var watch = Stopwatch.StartNew();
        foreach (var sop in instances) await TimeAsync(http, $"{root}/{series}/instances/{sop}/frames/1");
        return watch.Elapsed.TotalMilliseconds;
    }
}
