// DIMSE benchmark: the same sender (dcmtk storescu) stores the MR series into our SCP and into dcmtk's storescp,
// over 1 and over 8 associations, in one run; our SCU against storescu; and our SCP's memory during a ~1 GB
// transfer over 8 associations. Results go to bench/RESULTS.md under "## DIMSE".
//
//   dotnet run -c Release --project bench/MedfusionDicom.Bench.Dimse [-- --reps 5 --big-mb 1024]
using System.Diagnostics;
using static BenchSupport;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dimse;

var reps = Arg("--reps", 5);
var bigMb = Arg("--big-mb", 1024);
var root = RepoRoot();
var series = Path.GetFullPath(Path.Combine(root, "..", "shared", "data", "dicom", "mr-ge-epi-64"));
if (!Directory.Exists(series))
{
    Console.Error.WriteLine($"bench: the MR series is not at {series}");
    return 1;
}
var files = Directory.GetFiles(series, "*.dcm").Order(StringComparer.Ordinal).ToArray();
var cli = Path.Combine(AppContext.BaseDirectory, "medfusion.dll");
var work = Directory.CreateTempSubdirectory("mfbench-").FullName;
var report = new StringBuilder();
var inv = CultureInfo.InvariantCulture;
try
{
    Console.WriteLine($"bench: {files.Length} instances ({files.Sum(f => new FileInfo(f).Length) / 1024} KiB), {reps} repetitions, {Environment.ProcessorCount} CPUs, load {LoadAverage()}");

    // ---- receivers: ours (durable ack, through the journal and without it), storescp, storescp --fork ----
    var ours = await Receiver.StartAsync("ours", work, port => ("dotnet", [cli, "scp", "--port", port, "--aet", "OURSCP", "--out", "{out}", "--max-associations", "16"]), "OURSCP");
    var oursInPlace = await Receiver.StartAsync("ours --no-journal", work,
        port => ("dotnet", [cli, "scp", "--port", port, "--aet", "OURSCP", "--out", "{out}", "--max-associations", "16", "--no-journal"]), "OURSCP");
    var dcmtk = await Receiver.StartAsync("storescp", work, port => ("storescp", ["-od", "{out}", port]), "ANY-SCP");
    var fork = await Receiver.StartAsync("storescp --fork", work, port => ("storescp", ["--fork", "-od", "{out}", port]), "ANY-SCP");
    // The gateway with no routes: ingest alone (file durable, index row committed, then 0000). Instances sent again
    // replace their file and row, so its data folder is kept between rounds and counted under instances/.
    var gatewayModels = Directory.CreateDirectory(Path.Combine(work, "no-models")).FullName;
    var gatewaySettings = Path.Combine(work, "gateway.json");
    var gateway = await Receiver.StartAsync("gateway", work, port =>
    {
        File.WriteAllText(gatewaySettings, $$"""
            { "Gateway": { "DataDirectory": "{{Path.Combine(work, "gateway")}}", "ModelsDirectory": "{{gatewayModels}}", "Routes": [],
              "Dimse": { "Port": {{port}}, "AeTitle": "MEDFUSION" }, "DicomWeb": { "Url": "" }, "Storage": { "MinimumFreeMegabytes": 0 } } }
            """);
        return ("dotnet", [cli, "gateway", "--config", gatewaySettings]);
    }, "MEDFUSION", countFiles: dir => Directory.Exists(Path.Combine(dir, "instances")) ? Directory.GetFiles(Path.Combine(dir, "instances"), "*.dcm", SearchOption.AllDirectories).Length : 0);
    Receiver[] receivers = [ours, oursInPlace, dcmtk, fork, gateway];
    // Warm-up, three rounds: tiered JIT for ours (a server runs long), page cache and dentries for all.
    for (var round = 0; round < 3; round++)
        foreach (var r in receivers) await StorescuAsync(r, files, 1);

    var times = receivers.ToDictionary(r => r.Name, _ => (One: new List<double>(), Eight: new List<double>()));
    for (var rep = 0; rep < reps; rep++)
    {
        foreach (var r in receivers)
        {
            r.Clear();
            times[r.Name].One.Add(await StorescuAsync(r, files, 1));
            r.CheckCount(files.Length);
            r.Clear();
            times[r.Name].Eight.Add(await StorescuAsync(r, files, 8));
            r.CheckCount(files.Length);
        }
    }
    double Rate(List<double> t) => files.Length / Median(t);
    var fsync = FsyncLatencyMs(work);
    var journalSync = OverwriteSyncLatencyMs(work);

    // ---- senders: storescu, our SCU in process, the medfusion store verb ----
    var sendTimes = (Storescu: new List<double>(), Scu: new List<double>(), Cli: new List<double>());
    var client = new DicomClient(new DicomClientOptions { Host = "127.0.0.1", Port = dcmtk.Port, CalledAE = "ANY-SCP" });
    await client.StoreAsync(files); // warm-up
    for (var rep = 0; rep < reps; rep++)
    {
        dcmtk.Clear();
        sendTimes.Storescu.Add(await StorescuAsync(dcmtk, files, 1));
        dcmtk.Clear();
        var watch = Stopwatch.StartNew();
        var results = await client.StoreAsync(files);
        sendTimes.Scu.Add(watch.Elapsed.TotalSeconds);
        if (results.Any(x => !x.Succeeded)) throw new InvalidOperationException("our SCU failed: " + results.First(x => !x.Succeeded).Error);
        dcmtk.Clear();
        watch.Restart();
        await RunAsync("dotnet", [cli, "store", "127.0.0.1", dcmtk.Port.ToString(inv), .. files]);
        sendTimes.Cli.Add(watch.Elapsed.TotalSeconds);
        dcmtk.CheckCount(files.Length);
    }
    foreach (var r in receivers) await r.DisposeAsync();

    // ---- memory: ~1 GB over 8 associations into a fresh SCP ----
    var big = Path.Combine(work, "big");
    var (count, bytes) = await MakeBigInstancesAsync(files[0], big, bigMb);
    var memory = await Receiver.StartAsync("ours (memory)", work, port => ("dotnet", [cli, "scp", "--port", port, "--aet", "OURSCP", "--out", "{out}"]), "OURSCP");
    var bigFiles = Directory.GetFiles(big);
    var sampler = memory.SampleRss();
    var bigTime = await StorescuAsync(memory, bigFiles, 8);
    var peakSampled = await sampler.StopAsync();
    var hwm = memory.PeakRssMb();
    memory.CheckCount(count);
    await memory.DisposeAsync();

    // ---- report ----
    var o1 = Rate(times["ours"].One);
    var o8 = Rate(times["ours"].Eight);
    report.AppendLine("## DIMSE");
    report.AppendLine();
    report.AppendLine($"Command: `dotnet run -c Release --project bench/MedfusionDicom.Bench.Dimse -- --reps {reps} --big-mb {bigMb}`  ");
    report.AppendLine($"Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} CPUs (shared with other builds; load average at the end {LoadAverage()}), " +
        $"ext4; median of {reps} repetitions after three warm-up rounds. Every sender and storescp run with `TCP_NODELAY=1` (dcmtk's Nagle switch; without it " +
        "storescp's answers wait on 40 ms delayed ACKs, and our SCP sets TCP_QUICKACK so it does not depend on it).");
    report.AppendLine();
    report.AppendLine($"### storescu -> SCP, {files.Length}-instance MR series ({files.Sum(f => new FileInfo(f).Length) / files.Length / 1024} KiB each)");
    report.AppendLine();
    report.AppendLine("| receiver | 1 association | 8 parallel associations |");
    report.AppendLine("|---|---|---|");
    foreach (var r in receivers)
        report.AppendLine($"| {r.Name}{(r == ours ? " (journal synced before every 0000)" : r == oursInPlace ? " (each file fdatasync'ed before its 0000)" : r == gateway ? " (`medfusion gateway`, no routes: journal synced and SQLite index row committed before every 0000)" : " (no fsync)")} | {Rate(times[r.Name].One):0} inst/s | {Rate(times[r.Name].Eight):0} inst/s |");
    report.AppendLine($"| **ratio ours / storescp** | **{o1 / Rate(times["storescp"].One):0.00}** | **{o8 / Rate(times["storescp"].Eight):0.00}** |");
    report.AppendLine($"| ratio ours / storescp --fork | {o1 / Rate(times["storescp --fork"].One):0.00} | {o8 / Rate(times["storescp --fork"].Eight):0.00} |");
    report.AppendLine($"| ratio ours --no-journal / storescp | {Rate(times["ours --no-journal"].One) / Rate(times["storescp"].One):0.00} | {Rate(times["ours --no-journal"].Eight) / Rate(times["storescp"].Eight):0.00} |");
    report.AppendLine($"| **ratio gateway / storescp** (issue 14, benchmark 1) | **{Rate(times["gateway"].One) / Rate(times["storescp"].One):0.00}** | **{Rate(times["gateway"].Eight) / Rate(times["storescp"].Eight):0.00}** |");
    report.AppendLine();
    report.AppendLine($"The gateway answers after the same journal sync as our SCP and a commit of the instance's index row: SQLite in WAL " +
        "mode, rows of concurrent associations committed together on a kept connection with a prepared statement, without a sync " +
        "of their own (the journal keeps each record until the row is written, so its checkpoint's syncfs makes the row durable, and " +
        $"at start the gateway indexes again whatever the journal still held). {1000 / Rate(times["gateway"].One):0.00} ms per instance " +
        $"over one association against {1000 / o1:0.00} ms for our SCP alone. Target gateway / storescp >= 1.0.");
    report.AppendLine();
    var oursMs = 1000 / o1;
    var theirsMs = 1000 / Rate(times["storescp"].One);
    report.AppendLine($"Per instance over one association: ours {oursMs:0.00} ms, storescp {theirsMs:0.00} ms, a difference of {oursMs - theirsMs:0.00} ms. " +
        "The sender waits for each answer, and ours answers only once the instance is durable; storescp answers from the page cache. " +
        $"Measured alone on this disk (median of 200): making a new 28 KiB file durable (fdatasync) takes {fsync:0.00} ms, a file-system journal " +
        $"commit, while overwriting 28 KiB of an allocated, synced file and syncing it takes {journalSync:0.00} ms. So the SCP appends each " +
        "instance to its preallocated write-ahead journal and syncs that (one sync for all associations waiting), renames the file into place " +
        "unsynced, and checkpoints the journal in the background (syncfs); at start-up it writes again whatever a crash left undone. " +
        "Without the journal (`--no-journal`) each file is fdatasync'ed in place; over 8 associations those syncs overlap (ext4 commits them together).");
    report.AppendLine();
    report.AppendLine("### SCU send rate (to storescp, 1 association)");
    report.AppendLine();
    report.AppendLine("| sender | rate |");
    report.AppendLine("|---|---|");
    report.AppendLine($"| dcmtk storescu (process) | {files.Length / Median(sendTimes.Storescu):0} inst/s |");
    report.AppendLine($"| our DicomClient (in process, warm) | {files.Length / Median(sendTimes.Scu):0} inst/s |");
    report.AppendLine($"| `medfusion store` (process, includes .NET start-up) | {files.Length / Median(sendTimes.Cli):0} inst/s |");
    report.AppendLine($"| **ratio our SCU / storescu** | **{Median(sendTimes.Storescu) / Median(sendTimes.Scu):0.00}** |");
    report.AppendLine();
    report.AppendLine("### Memory: large transfer over 8 associations into our SCP");
    report.AppendLine();
    report.AppendLine($"{count} instances of {bytes / count / (1024 * 1024)} MiB ({bytes / (1024 * 1024)} MiB in all) sent by 8 parallel storescu in {bigTime:0.0} s " +
        $"({bytes / (1024.0 * 1024) / bigTime:0} MiB/s, durable). SCP peak RSS: **{Math.Max(hwm, peakSampled):0} MB** (VmHWM {hwm:0} MB; target < 300 MB).");
    report.AppendLine();
    Console.Write(report);
    WriteResults(Path.Combine(root, "bench", "RESULTS.md"), report.ToString());
    return 0;
}
finally
{
    try
    {
        Directory.Delete(work, recursive: true);
    }
    catch (IOException)
    {
        // A receiver may still be closing a file; /tmp is cleaned eventually.
    }
}

static int Arg(string name, int fallback)
{
    var args = Environment.GetCommandLineArgs();
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

/// <summary>Wall time for storescu to send <paramref name="files"/> over <paramref name="associations"/> parallel processes.</summary>
static async Task<double> StorescuAsync(Receiver receiver, string[] files, int associations)
{
    var parts = Enumerable.Range(0, associations).Select(i => files.Where((_, n) => n % associations == i).ToArray()).ToArray();
    var watch = Stopwatch.StartNew();
    await Task.WhenAll(parts.Select(part => RunAsync("storescu", ["-aec", receiver.AETitle, "127.0.0.1", receiver.Port.ToString(CultureInfo.InvariantCulture), .. part])));
    return watch.Elapsed.TotalSeconds;
}

static async Task RunAsync(string file, IEnumerable<string> args)
{
    using var p = Process.Start(StartInfo(file, args))!;
    var stdout = p.StandardOutput.ReadToEndAsync();
    var stderr = p.StandardError.ReadToEndAsync();
    await p.WaitForExitAsync();
    if (p.ExitCode != 0) throw new InvalidOperationException($"{file} exited {p.ExitCode}: {await stderr}{await stdout}");
}

static double FsyncLatencyMs(string work)
{
    var dir = Directory.CreateDirectory(Path.Combine(work, "fsync")).FullName;
    var data = new byte[28 * 1024];
    var samples = new List<double>();
    for (var i = 0; i < 200; i++)
    {
        using var fs = new FileStream(Path.Combine(dir, $"f{i}"), FileMode.CreateNew, FileAccess.Write, FileShare.None, 0);
        fs.Write(data);
        var watch = Stopwatch.StartNew();
        fs.Flush(flushToDisk: true);
        samples.Add(watch.Elapsed.TotalMilliseconds);
    }
    return Median(samples);
}

/// <summary>Median time to overwrite 28 KiB inside a preallocated, synced file and fdatasync it: the store journal's cost.</summary>
static double OverwriteSyncLatencyMs(string work)
{
    // fdatasync, as the journal does: FileStream.Flush(true) is fsync, which also commits the new mtime.
    var data = new byte[28 * 1024];
    using var fs = new FileStream(Path.Combine(work, "journal-probe"), FileMode.Create, FileAccess.ReadWrite, FileShare.None, 0);
    for (var i = 0; i < 200; i++) fs.Write(data);
    fs.Flush(flushToDisk: true);
    var samples = new List<double>();
    for (var i = 0; i < 200; i++)
    {
        fs.Position = (long)i * data.Length;
        fs.Write(data);
        var watch = Stopwatch.StartNew();
        if (Native.Fdatasync((int)fs.SafeFileHandle.DangerousGetHandle()) != 0) throw new IOException("fdatasync failed");
        samples.Add(watch.Elapsed.TotalMilliseconds);
    }
    return Median(samples);
}

/// <summary>Copies of one MR instance enlarged to 2048x2048x16-bit (8 MiB) pixel data, each its own instance, to reach <paramref name="megabytes"/>.</summary>
static async Task<(int Count, long Bytes)> MakeBigInstancesAsync(string template, string dir, int megabytes)
{
    Directory.CreateDirectory(dir);
    var file = DicomFile.Open(template);
    const int side = 2048;
    var pixels = new byte[side * side * 2];
    new Random(1).NextBytes(pixels);
    file.Dataset.AddOrUpdate(DicomTag.Rows, (ushort)side).AddOrUpdate(DicomTag.Columns, (ushort)side)
        .AddOrUpdate(new DicomElement(DicomTag.PixelData, DicomVR.OW, pixels));
    var count = Math.Max(8, megabytes / 8);
    long bytes = 0;
    for (var i = 0; i < count; i++)
    {
        file.Dataset.AddOrUpdate(DicomTag.SOPInstanceUID, DicomUID.Generate().UID);
        var path = Path.Combine(dir, $"big{i:D4}.dcm");
        await file.SaveAsync(path);
        bytes += new FileInfo(path).Length;
    }
    return (count, bytes);
}

static void WriteResults(string path, string section)
{
    var text = File.Exists(path) ? File.ReadAllText(path) : "# Benchmark results\n\n";
    var start = text.IndexOf("## DIMSE", StringComparison.Ordinal);
    if (start < 0) text = text.TrimEnd() + "\n\n" + section;
    else
    {
        var next = text.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        text = text[..start] + section + (next < 0 ? "" : text[(next + 1)..]);
    }
    File.WriteAllText(path, text.TrimEnd() + "\n");
}

/// <summary>A storage SCP process (ours or storescp) on a free port, writing into its own folder.</summary>
internal sealed class Receiver : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _out;

    private readonly Func<string, int> _countFiles;
    private readonly bool _keepsData;

    private Receiver(string name, Process process, string output, int port, string aeTitle, Func<string, int>? countFiles)
    {
        _keepsData = countFiles is not null;
        _countFiles = countFiles ?? (dir => Directory.GetFiles(dir).Length);
        Name = name;
        _process = process;
        _out = output;
        Port = port;
        AETitle = aeTitle;
        // Drained so that a chatty receiver never blocks on a full pipe.
        _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        _ = process.StandardError.BaseStream.CopyToAsync(Stream.Null);
    }

    public string Name { get; }
    public int Port { get; }
    public string AETitle { get; }

    /// <param name="countFiles">How to count what the receiver stored under its folder (set for a receiver that keeps its data between rounds).</param>
    public static async Task<Receiver> StartAsync(string name, string work, Func<string, (string File, string[] Args)> command, string aeTitle, Func<string, int>? countFiles = null)
    {
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            var output = Directory.CreateDirectory(Path.Combine(work, name.Replace(' ', '_'))).FullName;
            var (file, args) = command(port.ToString(CultureInfo.InvariantCulture));
            var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args) psi.ArgumentList.Add(a == "{out}" ? output : a);
            psi.Environment["TCP_NODELAY"] = "1";
            var receiver = new Receiver(name, Process.Start(psi)!, output, port, aeTitle, countFiles);
            var watch = Stopwatch.StartNew();
            while (true)
            {
                using var client = new TcpClient();
                try
                {
                    await client.ConnectAsync(IPAddress.Loopback, port);
                    return receiver;
                }
                catch (SocketException) when (watch.Elapsed < TimeSpan.FromSeconds(20))
                {
                    await Task.Delay(50);
                }
            }
        }
    }

    public void Clear()
    {
        if (_keepsData) return;
        foreach (var f in Directory.EnumerateFiles(_out)) File.Delete(f);
    }

    public void CheckCount(int expected)
    {
        // storescp --fork children may still be closing their last file when storescu has exited.
        var watch = Stopwatch.StartNew();
        while (_countFiles(_out) < expected && watch.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(20);
        var n = _countFiles(_out);
        if (n != expected) throw new InvalidOperationException($"{Name} holds {n} files, {expected} expected");
    }

    /// <summary>Peak resident set (VmHWM) of the receiver process, in MB.</summary>
    public double PeakRssMb() => StatusKb("VmHWM:") / 1024.0;

    private double StatusKb(string field)
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            if (line.StartsWith(field, StringComparison.Ordinal))
                return double.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        return 0;
    }

    /// <summary>Samples VmRSS every 20 ms until stopped; returns the largest sample in MB.</summary>
    public RssSampler SampleRss() => new(() => StatusKb("VmRSS:") / 1024.0);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}

internal sealed class RssSampler
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task<double> _task;

    public RssSampler(Func<double> read)
    {
        _task = Task.Run(async () =>
        {
            var peak = 0.0;
            while (!_stop.IsCancellationRequested)
            {
                peak = Math.Max(peak, read());
                try
                {
                    await Task.Delay(20, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            return peak;
        });
    }

    public async Task<double> StopAsync()
    {
        await _stop.CancelAsync();
        return await _task;
    }
}

internal static partial class Native
{
    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "fdatasync")]
    internal static partial int Fdatasync(int fd);
}
