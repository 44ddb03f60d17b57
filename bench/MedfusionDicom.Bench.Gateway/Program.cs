// Gateway benchmark 2 (issue 14): ingest while the embedded worker is busy, against idle ingest, in one run, for
// several nice values of the embedded worker's sampling threads (Gateway:Workers:N:Niceness). For each, the same
// sender (dcmtk storescu, one association) stores the shared 150-instance MR series into a fresh `medfusion gateway`
// (a process of its own): first while nothing else runs, then while the embedded worker denoises a study that arrived
// just before. The MR series matches no route, so the figures are ingest alone (file and journal synced, index row
// committed, then 0000).
//
// Benchmark 4: the gateway's peak RSS while it takes in a study of --study-mb MiB in 8 MiB instances over 8
// associations, routes it and denoises it (one step a 2048 x 2048 image, tiled), until --rss-jobs derived instances
// are written: the whole study's inference takes hours on a CPU, and memory per job is bounded by the tiling budget.
//
// Benchmark 3 (EndToEndBenchmark.cs): the gateway's overhead on a 12-instance DX study from Orthanc and back.
//
// Issue 15's DICOMweb benchmark (DicomWebBenchmark.cs, --only dicomweb): QIDO, series metadata and frames against
// Orthanc's DICOMweb plugin.
//
//   dotnet run -c Release --project bench/MedfusionDicom.Bench.Gateway [-- --reps 3 --study-mb 1024 --stable-seconds 2 --only e2e|ingest|rss|dicomweb]
using System.Diagnostics;
using static BenchSupport;
using System.Globalization;
using System.Net.Sockets;
using MedfusionDicom.Dicom;
using MedfusionDicom.Gateway.Storage;

var reps = Arg("--reps", 3);
var studyMb = Arg("--study-mb", 1024);
var root = RepoRoot();
var series = Path.GetFullPath(Path.Combine(root, "..", "shared", "data", "dicom", "mr-ge-epi-64"));
if (!Directory.Exists(series))
{
    Console.Error.WriteLine($"bench: the MR series is not at {series}");
    return 1;
}

var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault() ?? "all";
if (only is "all" or "e2e")
{
    var stable = Arg("--stable-seconds", 2);
    var runs = await EndToEndBenchmark.RunAsync(root, reps, stable);
    Console.WriteLine();
    Console.WriteLine("| run | release to last ack (s) | StableSeconds | worker computing (s) | gateway overhead (s) | overhead / compute |");
    Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
    for (var r = 0; r < runs.Count; r++)
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {r + 1} | {runs[r].TotalS:0.00} | {runs[r].StableS:0} | {runs[r].ComputeS:0.00} | {runs[r].OverheadS:0.00} | {runs[r].OverheadS / runs[r].ComputeS:0.0%} |"));
    var ratio = Median(runs.Select(r => r.OverheadS / r.ComputeS).ToList());
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Benchmark 3: 12-instance DX study, Orthanc -> gateway -> Orthanc; median overhead / compute {ratio:0.0%} (target <= 10 %); load {LoadAverage()}"));
    if (only == "e2e") return 0;
}

if (only == "dicomweb")
{
    var dicomWeb = await DicomWebBenchmark.RunAsync(series, Math.Max(reps, 5), StorescuAsync);
    Console.WriteLine();
    Console.WriteLine("| request | ours (ms) | Orthanc-DICOMweb (ms) | Orthanc / ours |");
    Console.WriteLine("|---|---:|---:|---:|");
    foreach (var row in dicomWeb)
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {row.What} | {row.OursMs:0.0} | {row.OrthancMs:0.0} | {row.OrthancMs / row.OursMs:0.00} |"));
    Console.WriteLine($"medians of {Math.Max(reps, 5)}; load {LoadAverage()}");
    return 0;
}

var files = Directory.GetFiles(series, "*.dcm").Order(StringComparer.Ordinal).ToArray();
Console.WriteLine($"bench: {files.Length} instances, {reps} repetitions, {Environment.ProcessorCount} CPUs, load {LoadAverage()}");
// --ingest-worker child|embedded (default: both) and --ingest-niceness N (default: 0, 10 and 19) choose the rows.
var workerKinds = Array.IndexOf(args, "--ingest-worker") is var wk and >= 0 && wk + 1 < args.Length ? [args[wk + 1]] : new[] { "embedded", "child" };
var nicenesses = Array.IndexOf(args, "--ingest-niceness") is var nk and >= 0 && nk + 1 < args.Length ? [int.Parse(args[nk + 1], CultureInfo.InvariantCulture)] : new[] { 0, 10, 19 };
var rows = new List<(string Worker, int Niceness, double Idle, double Busy)>();
foreach (var worker in only is "all" or "ingest" ? workerKinds : [])
    foreach (var niceness in nicenesses)
    {
        var (idleRate, busyRate) = await MeasureAsync(worker, niceness);
        rows.Add((worker, niceness, idleRate, busyRate));
    }

Console.WriteLine();
Console.WriteLine($"| worker (Address) | its nice value | idle ingest (inst/s) | ingest while the worker denoises (inst/s) | ratio busy / idle |");
Console.WriteLine("|---|---:|---:|---:|---:|");
foreach (var (worker, niceness, idleRate, busyRate) in rows)
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {worker} | {niceness} | {idleRate:0} | {busyRate:0} | {busyRate / idleRate:0.00} |"));
Console.WriteLine($"medians of {reps}; storescu over 1 association; load average at the end {LoadAverage()}");

var rssJobs = Arg("--rss-jobs", 6);
var inferenceSeconds = 0.0;
var childPeakMb = 0.0;
var childHwmMb = 0.0;
var (instances, peakMb, hwmMb, seconds) = await PeakRssAsync(studyMb);
Console.WriteLine();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"Peak RSS over a {instances * 8} MiB study ({instances} instances of 8 MiB, 8 storescu associations, {instances * 8 / seconds:0} MiB/s durable and indexed; then routed and denoised, 2 jobs at a time, until {rssJobs} derived instances were written, {inferenceSeconds:0} s): gateway sampled {peakMb:0} MB, VmHWM {hwmMb:0} MB (target < 500 MB)"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"Its child worker process (Workers Address \"child\"; 0 when the worker ran in the gateway's process): sampled {childPeakMb:0} MB, VmHWM {childHwmMb:0} MB"));
return 0;

int Arg(string name, int fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

async Task<(int Instances, double PeakMb, double HwmMb, double Seconds)> PeakRssAsync(int megabytes)
{
    var work = Directory.CreateTempSubdirectory("mfgwrss-").FullName;
    try
    {
        var port = FreePort();
        var data = Path.Combine(work, "data");
        var settings = Path.Combine(work, "gateway.json");
        var models = Directory.CreateDirectory(Path.Combine(work, "models")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(models, "cdiff-cxr-denoise"), Path.Combine(root, "models", "cdiff-cxr-denoise"));
        // The whole pipeline: each 2048 x 2048 instance is denoised (one step, tiled within the embedded worker's
        // default memory budget) and its derived instance written and indexed.
        File.WriteAllText(settings, $$"""
            { "Gateway": { "DataDirectory": "{{data}}", "ModelsDirectory": "{{models}}",
              "Dimse": { "Port": {{port}} }, "DicomWeb": { "Url": "" }, "Assembly": { "StableSeconds": 1 }, "Storage": { "MinimumFreeMegabytes": 0 },
              "Routes": [ { "Name": "big", "Match": { "Modality": [ "MR" ] }, "Pipeline": { "Task": "denoise", "Model": "cdiff-cxr-denoise", "Steps": 1 } } ] } }
            """);
        var files = BigStudy(Path.Combine(work, "big"), megabytes / 8);
        var start = StartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "medfusion.dll"), "gateway", "--config", settings]);
        // --gateway-env NAME=VALUE (repeatable) sets the gateway's environment only, e.g. a GC setting to compare.
        for (var at = Array.IndexOf(args, "--gateway-env"); at >= 0 && at + 1 < args.Length; at = Array.IndexOf(args, "--gateway-env", at + 2))
            start.Environment[args[at + 1].Split('=', 2)[0]] = args[at + 1].Split('=', 2)[1];
        using var gateway = Process.Start(start)!;
        _ = gateway.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        _ = gateway.StandardError.BaseStream.CopyToAsync(Stream.Null);
        await WaitForPortAsync(port);
        double peak = 0;
        var child = 0;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            var found = Stopwatch.StartNew();
            while (!stop.IsCancellationRequested)
            {
                peak = Math.Max(peak, StatusMb(gateway.Id, "VmRSS:"));
                if (child == 0 || found.Elapsed > TimeSpan.FromSeconds(1))
                {
                    child = ChildOf(gateway.Id);
                    found.Restart();
                }
                if (child != 0) childPeakMb = Math.Max(childPeakMb, StatusMb(child, "VmRSS:"));
                await Task.Delay(20);
            }
        });
        var watch = Stopwatch.StartNew();
        var parts = Enumerable.Range(0, 8).Select(i => files.Where((_, n) => n % 8 == i).ToArray()).ToArray();
        await Task.WhenAll(parts.Select(part => StorescuAsync(port, part)));
        var seconds = watch.Elapsed.TotalSeconds;
        var index = GatewayIndex.ForDataDirectory(data);
        var inference = Stopwatch.StartNew();
        while ((await index.ListJobsAsync(JobState.Done)).Count < rssJobs)
        {
            if (inference.Elapsed > TimeSpan.FromMinutes(15)) throw new TimeoutException($"fewer than {rssJobs} jobs done after 15 minutes");
            await Task.Delay(500);
        }

        await stop.CancelAsync();
        await sampler;
        var hwm = StatusMb(gateway.Id, "VmHWM:");
        if (child != 0) childHwmMb = StatusMb(child, "VmHWM:");
        var indexed = (await index.ListInstancesAsync()).Count(i => !i.Derived);
        if (indexed != files.Length) throw new InvalidOperationException($"the gateway indexed {indexed} of {files.Length} instances");
        inferenceSeconds = inference.Elapsed.TotalSeconds;
        gateway.Kill(entireProcessTree: true);
        await gateway.WaitForExitAsync();
        return (files.Length, peak, hwm, seconds);
    }
    finally
    {
        Directory.Delete(work, recursive: true);
    }
}

async Task<(double Idle, double Busy)> MeasureAsync(string worker, int niceness)
{
    var work = Directory.CreateTempSubdirectory("mfgwbench-").FullName;
    try
    {
        var models = Directory.CreateDirectory(Path.Combine(work, "models")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(models, "cdiff-cxr-denoise"), Path.Combine(root, "models", "cdiff-cxr-denoise"));
        var port = FreePort();
        var data = Path.Combine(work, "data");
        var settings = Path.Combine(work, "gateway.json");
        File.WriteAllText(settings, $$"""
            { "Gateway": { "DataDirectory": "{{data}}", "ModelsDirectory": "{{models}}", "Dimse": { "Port": {{port}} }, "DicomWeb": { "Url": "" },
              "Assembly": { "StableSeconds": 1 }, "Storage": { "MinimumFreeMegabytes": 0 },
              "Workers": [ { "Name": "{{worker}}", "Address": "{{worker}}", "MaxConcurrency": 2, "Niceness": {{niceness}} } ],
              "Routes": [ { "Name": "busy", "Match": { "PatientID": [ "BUSY" ] }, "Pipeline": { "Task": "denoise", "Model": "cdiff-cxr-denoise", "Steps": 200 } } ] } }
            """);
        var start = StartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "medfusion.dll"), "gateway", "--config", settings]);
        // --gateway-env NAME=VALUE (repeatable) sets the gateway's environment only, e.g. a GC setting to compare.
        for (var at = Array.IndexOf(args, "--gateway-env"); at >= 0 && at + 1 < args.Length; at = Array.IndexOf(args, "--gateway-env", at + 2))
            start.Environment[args[at + 1].Split('=', 2)[0]] = args[at + 1].Split('=', 2)[1];
        using var gateway = Process.Start(start)!;
        _ = gateway.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        _ = gateway.StandardError.BaseStream.CopyToAsync(Stream.Null);
        await WaitForPortAsync(port);

        for (var warm = 0; warm < 3; warm++) await StorescuAsync(port, files);
        var idle = new List<double>();
        for (var rep = 0; rep < reps; rep++) idle.Add(await StorescuAsync(port, files));

        // A study for the worker: 40 copies of MR_small for patient BUSY, 200 steps each (minutes of work on a CPU).
        var busyFiles = BusyStudy(Path.Combine(work, "busy"), 40);
        await StorescuAsync(port, busyFiles);
        var index = GatewayIndex.ForDataDirectory(data);
        var watch = Stopwatch.StartNew();
        while ((await index.ListJobsAsync(JobState.Leased)).Count == 0)
        {
            if (watch.Elapsed > TimeSpan.FromMinutes(2)) throw new InvalidOperationException("the worker never started on the busy study");
            await Task.Delay(100);
        }

        var busy = new List<double>();
        for (var rep = 0; rep < reps; rep++)
        {
            busy.Add(await StorescuAsync(port, files));
            if ((await index.ListJobsAsync(JobState.Leased)).Count == 0) throw new InvalidOperationException("the worker ran out of work during the measurement; give it a larger busy study");
        }

        gateway.Kill(entireProcessTree: true);
        await gateway.WaitForExitAsync();
        return (files.Length / Median(idle), files.Length / Median(busy));
    }
    finally
    {
        Directory.Delete(work, recursive: true);
    }
}

static string[] BusyStudy(string folder, int count)
{
    Directory.CreateDirectory(folder);
    var source = DicomFile.Open("/usr/lib/python3/dist-packages/pydicom/data/test_files/MR_small.dcm");
    var study = DicomUID.Generate().UID;
    var seriesUid = DicomUID.Generate().UID;
    return Enumerable.Range(1, count).Select(n =>
    {
        var copy = source.Dataset.Clone().AddOrUpdate(DicomTag.PatientID, "BUSY").AddOrUpdate(DicomTag.StudyInstanceUID, study)
            .AddOrUpdate(DicomTag.SeriesInstanceUID, seriesUid).AddOrUpdate(DicomTag.SOPInstanceUID, DicomUID.Generate().UID);
        var path = Path.Combine(folder, $"{n:D3}.dcm");
        new DicomFile(copy).Save(path);
        return path;
    }).ToArray();
}

/// <summary>Instances of 8 MiB (2048 x 2048, 16 bits) in one study, made from MR_small.</summary>
static string[] BigStudy(string folder, int count)
{
    Directory.CreateDirectory(folder);
    var source = DicomFile.Open("/usr/lib/python3/dist-packages/pydicom/data/test_files/MR_small.dcm");
    var study = DicomUID.Generate().UID;
    var seriesUid = DicomUID.Generate().UID;
    var pixels = new byte[2048 * 2048 * 2];
    for (var i = 0; i < pixels.Length; i += 2) pixels[i] = (byte)(i / 2 % 251);
    return Enumerable.Range(1, count).Select(n =>
    {
        var copy = source.Dataset.Clone().AddOrUpdate(DicomTag.StudyInstanceUID, study).AddOrUpdate(DicomTag.SeriesInstanceUID, seriesUid)
            .AddOrUpdate(DicomTag.SOPInstanceUID, DicomUID.Generate().UID).AddOrUpdate(DicomTag.Rows, (ushort)2048).AddOrUpdate(DicomTag.Columns, (ushort)2048)
            .AddOrUpdate(new DicomElement(DicomTag.PixelData, DicomVR.OW, pixels));
        var path = Path.Combine(folder, $"{n:D4}.dcm");
        new DicomFile(copy).Save(path);
        return path;
    }).ToArray();
}

/// <summary>The first live child process of <paramref name="parent"/>, or 0.</summary>
static int ChildOf(int parent)
{
    foreach (var dir in Directory.GetDirectories("/proc"))
    {
        if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
        try
        {
            var stat = File.ReadAllText(Path.Combine(dir, "stat"));
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields[0] != "Z" && int.Parse(fields[1], CultureInfo.InvariantCulture) == parent) return pid;
        }
        catch (IOException)
        {
        }
    }
    return 0;
}

static double StatusMb(int pid, string field)
{
    if (!File.Exists($"/proc/{pid}/status")) return 0;
    foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        if (line.StartsWith(field, StringComparison.Ordinal))
            return double.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024;
    return 0;
}

static async Task<double> StorescuAsync(int port, string[] files)
{
    var watch = Stopwatch.StartNew();
    using var process = Process.Start(StartInfo("storescu", ["-aec", "MEDFUSION", "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), .. files]))!;
    var output = process.StandardError.ReadToEndAsync();
    await process.StandardOutput.ReadToEndAsync();
    await process.WaitForExitAsync();
    if (process.ExitCode != 0) throw new InvalidOperationException("storescu failed: " + await output);
    return watch.Elapsed.TotalSeconds;
}

static async Task WaitForPortAsync(int port)
{
    var watch = Stopwatch.StartNew();
    while (true)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync("127.0.0.1", port);
            return;
        }
        catch (SocketException) when (watch.Elapsed < TimeSpan.FromMinutes(2))
        {
            await Task.Delay(100);
        }
    }
}

