using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Tests.Fixtures;
using MedfusionDicom.Diffusion.Data;
using MedfusionDicom.Gateway;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using static BenchSupport;

/// <summary>
/// Benchmark 3: the gateway's own overhead on a 12-instance DX study. Orthanc (the PACS) sends the study to the
/// gateway; the clock runs from the release of that association to the C-STORE response for the last derived
/// instance from Orthanc. The gateway's overhead is that time minus StableSeconds and minus the time the worker was
/// computing (the union of its requests' compute intervals, as the worker logs them), so that concurrency is not
/// counted twice.
/// </summary>
internal static class EndToEndBenchmark
{
    public sealed record Result(double TotalS, double StableS, double ComputeS, double OverheadS, int Requests);

    private const int Count = 12;

    public static async Task<IReadOnlyList<Result>> RunAsync(string root, int reps, double stableSeconds)
    {
        var npy = Path.GetFullPath(Path.Combine(root, "..", "shared", "data", "cxr-pneumonia", "cxr128.npy"));
        using var data = CxrDataset.Open(npy);
        var test = data.Split("test");
        var work = Directory.CreateTempSubdirectory("mfgwe2e-").FullName;
        var events = new ConcurrentQueue<(DateTime At, string Category, int EventId, IReadOnlyDictionary<string, object?> State)>();
        var gatewayPort = FreePort();
        var (orthanc, http, orthancPort) = await StartOrthancAsync(work, new Dictionary<string, (string, int)> { ["gw"] = ("MEDFUSION", gatewayPort) });
        IHost? host = null;
        try
        {
            var models = Directory.CreateDirectory(Path.Combine(work, "models")).FullName;
            Directory.CreateSymbolicLink(Path.Combine(models, "cdiff-cxr-denoise"), Path.Combine(root, "models", "cdiff-cxr-denoise"));
            var options = new GatewayOptions
            {
                DataDirectory = Path.Combine(work, "data"),
                ModelsDirectory = models,
                NodeName = "bench",
                Dimse = new DimseOptions { Port = gatewayPort },
                DicomWeb = new DicomWebOptions { Url = "" },
                Assembly = new AssemblyOptions { StableSeconds = stableSeconds },
                Workers = [new WorkerEndpointOptions { Name = "embedded", Address = "embedded", MaxConcurrency = 2 }],
                Destinations = [new DestinationOptions { Name = "pacs", Host = "127.0.0.1", Port = orthancPort, AeTitle = "ORTHANC" }],
                Routes = [new RouteOptions { Name = "denoise", Match = new() { ["Modality"] = ["DX"] }, Pipeline = new PipelineOptions { Task = "denoise", Model = "cdiff-cxr-denoise" }, Destinations = ["pacs"] }],
                Storage = new StorageOptions { MinimumFreeMegabytes = 0 },
            };
            host = GatewayHostBuilder.Build(options, logging => logging.AddProvider(new CapturingProvider(events)));
            await host.StartAsync();

            var results = new List<Result>();
            for (var rep = -1; rep < reps; rep++) // rep -1 warms up the paths a first study takes
            {
                var study = await UploadStudyAsync(http, data, test, $"e2e-{rep}");
                events.Clear();
                var sent = await http.PostAsJsonAsync("modalities/gw/store", new Dictionary<string, object> { ["Resources"] = new[] { study }, ["Synchronous"] = true });
                sent.EnsureSuccessStatusCode();
                var released = DateTime.UtcNow;
                var acknowledged = await LastAcknowledgedAsync(events, TimeSpan.FromMinutes(10));
                var stored = JsonNode.Parse(await http.GetStringAsync($"studies/{study}/instances"))!.AsArray().Count;
                if (stored != 2 * Count) throw new InvalidOperationException($"Orthanc holds {stored} instances of the study, not {2 * Count}");
                var compute = ComputeIntervals(events, released, acknowledged);
                var total = (acknowledged - released).TotalSeconds;
                var computeS = UnionSeconds(compute);
                if (rep >= 0) results.Add(new Result(total, stableSeconds, computeS, total - stableSeconds - computeS, compute.Count));
            }

            return results;
        }
        finally
        {
            if (host is not null)
            {
                await host.StopAsync();
                host.Dispose();
            }

            orthanc.Kill(entireProcessTree: true);
            await orthanc.WaitForExitAsync();
            http.Dispose();
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<string> UploadStudyAsync(HttpClient http, CxrDataset data, IReadOnlyList<CxrRecord> test, string name)
    {
        string? study = null;
        for (var k = 0; k < Count; k++)
        {
            var image = data.ReadImage(test[k].Index, MedfusionDicom.Imaging.IntensityNormalization.OfStoredRange);
            var pixels = new byte[image.Data.Length * 2];
            for (var i = 0; i < image.Data.Length; i++)
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(pixels.AsSpan(2 * i), (ushort)Math.Round((image.Data[i] + 1) / 2 * 4095));
            var dx = XRayFixtures.XRay(dx: true, data.Width, pixels, study: name, instanceNumber: k + 1);
            using var stream = new MemoryStream();
            await new DicomFile(dx).SaveAsync(stream);
            var uploaded = await http.PostAsync("instances", new ByteArrayContent(stream.ToArray()));
            uploaded.EnsureSuccessStatusCode();
            study = JsonNode.Parse(await uploaded.Content.ReadAsStringAsync())!["ParentStudy"]!.GetValue<string>();
        }

        return study!;
    }

    /// <summary>When the export that completed the twelfth derived instance got Orthanc's responses (the gateway logs it as the responses arrive).</summary>
    private static async Task<DateTime> LastAcknowledgedAsync(ConcurrentQueue<(DateTime At, string Category, int EventId, IReadOnlyDictionary<string, object?> State)> events, TimeSpan patience)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < patience)
        {
            var exported = 0;
            foreach (var e in events.Where(e => e.EventId == 1406).OrderBy(e => e.At))
            {
                exported += Convert.ToInt32(e.State["Count"], CultureInfo.InvariantCulture);
                if (exported >= Count) return e.At;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("the derived series did not reach Orthanc");
    }

    /// <summary>The worker's requests between the two times, as [end - computeMs, end].</summary>
    private static List<(DateTime Start, DateTime End)> ComputeIntervals(IEnumerable<(DateTime At, string Category, int EventId, IReadOnlyDictionary<string, object?> State)> events, DateTime from, DateTime to) =>
        events.Where(e => e.State.ContainsKey("ComputeMs") && e.Category.StartsWith("MedfusionDicom.Worker", StringComparison.Ordinal) && e.At >= from && e.At <= to)
            .Select(e => (e.At.AddMilliseconds(-Convert.ToDouble(e.State["ComputeMs"], CultureInfo.InvariantCulture)), e.At))
            .ToList();

    private static double UnionSeconds(List<(DateTime Start, DateTime End)> intervals)
    {
        double total = 0;
        DateTime? start = null, end = null;
        foreach (var (s, e) in intervals.OrderBy(i => i.Start))
        {
            if (end is null || s > end)
            {
                if (end is not null) total += (end.Value - start!.Value).TotalSeconds;
                (start, end) = (s, e);
            }
            else if (e > end) end = e;
        }

        return end is null ? 0 : total + (end.Value - start!.Value).TotalSeconds;
    }

    /// <summary>Keeps every log event with its time and structured state.</summary>
    private sealed class CapturingProvider(ConcurrentQueue<(DateTime, string, int, IReadOnlyDictionary<string, object?>)> events) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Capturing(categoryName, events);

        public void Dispose()
        {
        }

        private sealed class Capturing(string category, ConcurrentQueue<(DateTime, string, int, IReadOnlyDictionary<string, object?>)> events) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var values = state as IReadOnlyList<KeyValuePair<string, object?>>;
                events.Enqueue((DateTime.UtcNow, category, eventId.Id, values?.ToDictionary(v => v.Key, v => v.Value) ?? new Dictionary<string, object?>()));
            }
        }
    }
}
