using System.Diagnostics;
using System.Globalization;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Codecs;

// Parse throughput of our reader against GDCM's (gdcm.Reader through gdcm-sharp, in this process), on the same files
// with a warm page cache; several rounds, the median reported. Then our write throughput (encoding to memory).
var rounds = 9;
string? dir = null;
for (var i = 0; i < args.Length; i++)
{
    if (args[i] == "--rounds" && i + 1 < args.Length) rounds = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else dir = args[i];
}
dir ??= Path.Combine(FindRepoRoot(), "..", "shared", "data", "dicom", "mr-ge-epi-64");
if (!Directory.Exists(dir))
{
    Console.Error.WriteLine($"bench: skipped: the MR series is not at {Path.GetFullPath(dir)} (expected ../shared/data/dicom/mr-ge-epi-64 beside the repository)");
    return 0;
}
var files = Directory.GetFiles(dir, "*.dcm").Order(StringComparer.Ordinal).ToArray();
if (files.Length == 0)
{
    Console.Error.WriteLine($"bench: skipped: no .dcm files in {dir}");
    return 0;
}
var totalBytes = files.Sum(f => new FileInfo(f).Length);
GdcmNative.EnsureResolver();

double OursParse()
{
    var sw = Stopwatch.StartNew();
    var elements = 0;
    foreach (var f in files) elements += DicomFile.Open(f).Dataset.Count;
    sw.Stop();
    if (elements == 0) throw new InvalidOperationException("no elements read");
    return sw.Elapsed.TotalSeconds;
}

double GdcmParse()
{
    var sw = Stopwatch.StartNew();
    uint elements = 0;
    foreach (var f in files)
    {
        using var reader = new gdcm.Reader();
        reader.SetFileName(f);
        if (!reader.Read()) throw new InvalidOperationException($"gdcm could not read {f}");
        elements += reader.GetFile().GetDataSet().Size();
    }
    sw.Stop();
    if (elements == 0) throw new InvalidOperationException("no elements read");
    return sw.Elapsed.TotalSeconds;
}

var loaded = files.Select(f => DicomFile.Open(f)).ToArray();
long written = 0;
double OursWrite()
{
    var sw = Stopwatch.StartNew();
    written = 0;
    using var ms = new MemoryStream(capacity: (int)(totalBytes * 2));
    foreach (var file in loaded)
    {
        ms.SetLength(0);
        file.Save(ms);
        written += ms.Length;
    }
    sw.Stop();
    return sw.Elapsed.TotalSeconds;
}

var results = new List<(string Name, double Seconds, long Bytes)>();
foreach (var (name, run) in new (string, Func<double>)[] { ("ours: parse (DicomFile.Open)", OursParse), ("GDCM: parse (gdcm.Reader)", GdcmParse), ("ours: write (DicomFile.Save to memory)", OursWrite) })
{
    run();
    run(); // warm-up: JIT, page cache
    var times = Enumerable.Range(0, rounds).Select(_ => run()).Order().ToArray();
    results.Add((name, times[times.Length / 2], name.Contains("write", StringComparison.Ordinal) ? written : totalBytes));
}

Console.WriteLine($"{files.Length} files, {totalBytes / 1e6:F2} MB, {rounds} rounds, median; {Environment.ProcessorCount} CPU(s), .NET {Environment.Version}");
Console.WriteLine();
Console.WriteLine("| reader / writer | median time (ms) | MB/s | files/s |");
Console.WriteLine("|---|---:|---:|---:|");
foreach (var (name, seconds, bytes) in results)
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {seconds * 1000:F1} | {bytes / 1e6 / seconds:F1} | {files.Length / seconds:F0} |"));
var ours = results[0].Seconds;
var theirs = results[1].Seconds;
Console.WriteLine();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ours / GDCM parse speed: {theirs / ours:F2}x"));
return 0;

static string FindRepoRoot()
{
    foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "MedfusionDicom.sln"))) return d.FullName;
    return Directory.GetCurrentDirectory();
}
