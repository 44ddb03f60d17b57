// Tensor runtime benchmark: forward and forward+backward of a UNet-like residual block stack (batch 8, 128 channels,
// 32x32), ours against python3-torch on the same weights, input and thread count, alternating iterations in one run.
// usage: dotnet run --project bench/torch -c Release [-- --threads N --blocks N --iters N --write]
// OpenMP threads wait passively on both sides unless OMP_WAIT_POLICY is set: the two processes alternate on the same
// cores, and an idle side's spinning threads (TorchSharp ships its own libgomp, python3-torch uses Debian's, and they
// spin differently) would take cycles from the side being timed (bench/RESULTS.md, "Tensor runtime").
using TorchSharp.PyBridge;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TorchSharp;
using MedfusionDicom.Torch;
using TorchSharp.Modules;
using MedfusionDicom.Torch.Serialization;
using static TorchSharp.torch;

// Before the first torch call: libgomp reads it when it loads (from the C environment: .NET's own does not reach it),
// and the python side inherits it.
if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
{
    Environment.SetEnvironmentVariable("OMP_WAIT_POLICY", "PASSIVE");
    NativeEnvironment.setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
}
var opts = Args(args);
int threads = opts.GetValueOrDefault("threads", Environment.ProcessorCount), blocks = opts.GetValueOrDefault("blocks", 4);
int iters = opts.GetValueOrDefault("iters", 30);
const long Batch = 8, Channels = 128, Size = 32;
set_num_threads(threads);
manual_seed(0);

using var model = nn.Sequential(Enumerable.Range(0, blocks).Select(_ => (nn.Module<Tensor, Tensor>)new ResBlock(Channels)));
using var x = randn(Batch, Channels, Size, Size);
var dir = Path.Combine(Path.GetTempPath(), $"torch-bench-{Environment.ProcessId}");
Directory.CreateDirectory(dir);
var weights = Path.Combine(dir, "weights.safetensors");
var state = model.state_dict();
state["input"] = x;
Safetensors.SaveStateDict(weights, state);

var ours = (fwd: new List<double>(), fb: new List<double>());
var theirs = (fwd: new List<double>(), fb: new List<double>());
using var python = StartPython();
Tensor? ourOutput = null;
var sw = new Stopwatch();
for (int i = 0; i <= iters; i++) // iteration 0 warms both up; then one iteration of each, alternating
{
    double pf = double.Parse(Ask("f"), CultureInfo.InvariantCulture);
    using (var scope = NewDisposeScope())
    {
        sw.Restart();
        using (no_grad()) { var y = model.call(x); ourOutput?.Dispose(); ourOutput = y.MoveToOuterDisposeScope(); }
        double f = sw.Elapsed.TotalMilliseconds;
        if (i > 0) { ours.fwd.Add(f); theirs.fwd.Add(pf); }
    }
    double pb = double.Parse(Ask("b"), CultureInfo.InvariantCulture);
    using (var scope = NewDisposeScope())
    {
        sw.Restart();
        model.call(x).mean().backward();
        model.zero_grad();
        double b = sw.Elapsed.TotalMilliseconds;
        if (i > 0) { ours.fb.Add(b); theirs.fb.Add(pb); }
    }
}
Ask("o");
python.StandardInput.WriteLine("q");
python.WaitForExit();
using var theirOutput = Safetensors.LoadStateDict(Path.Combine(dir, "out.safetensors"))["output"];
double maxDiff = (ourOutput! - theirOutput).abs().max().item<float>();
Directory.Delete(dir, true);

double Median(List<double> v) { var s = v.Order().ToList(); return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2; }
double of = Median(ours.fwd), ob = Median(ours.fb), tf = Median(theirs.fwd), tb = Median(theirs.fb);
var table = new StringBuilder();
table.AppendLine("| pass | ours (ms, median) | python3-torch (ms, median) | ours / PyTorch (medians) | ours / PyTorch (minima) |");
table.AppendLine("| --- | ---: | ---: | ---: | ---: |");
table.AppendLine(CultureInfo.InvariantCulture, $"| forward (no_grad) | {of:F1} | {tf:F1} | {of / tf:F3} | {ours.fwd.Min() / theirs.fwd.Min():F3} |");
table.AppendLine(CultureInfo.InvariantCulture, $"| forward + backward | {ob:F1} | {tb:F1} | {ob / tb:F3} | {ours.fb.Min() / theirs.fb.Min():F3} |");
var summary = string.Create(CultureInfo.InvariantCulture,
    $"{blocks} residual blocks (GroupNorm(32) → SiLU → Conv3x3 ×2 + skip), input {Batch}x{Channels}x{Size}x{Size} float32, {threads} libtorch thread(s) on both sides (OMP_WAIT_POLICY={Environment.GetEnvironmentVariable("OMP_WAIT_POLICY")}), " +
    $"{iters} timed iterations of each pass, ours and PyTorch's alternating one by one (after one warm-up each), TorchSharp {typeof(torch).Assembly.GetName().Version} (libtorch {torch.__version__}), .NET {Environment.Version}; " +
    $"max |ours − PyTorch| of the forward output: {maxDiff:E1}");
Console.WriteLine(summary);
Console.Write(table);
if (opts.ContainsKey("write")) WriteResults(summary, table.ToString());

Process StartPython()
{
    var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardInput = true };
    foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "bench.py"), weights, threads.ToString(CultureInfo.InvariantCulture), Path.Combine(dir, "out.safetensors") })
        psi.ArgumentList.Add(a);
    var p = Process.Start(psi)!;
    var hello = p.StandardOutput.ReadLine() ?? throw new InvalidOperationException("bench.py did not start");
    if (hello != $"ready {threads}") throw new InvalidOperationException($"bench.py: unexpected \"{hello}\" (thread count must be {threads})");
    return p;
}

string Ask(string command)
{
    python.StandardInput.WriteLine(command);
    python.StandardInput.Flush();
    return python.StandardOutput.ReadLine() ?? throw new InvalidOperationException($"bench.py exited on \"{command}\"");
}

static void WriteResults(string summary, string table)
{
    var path = Path.Combine(FindRepoRoot(), "bench", "RESULTS.md");
    var text = File.Exists(path) ? File.ReadAllText(path) : "# Benchmarks\n";
    var section = $"""
        ## Tensor runtime

        Forward and forward+backward of a UNet-like residual block stack through our libtorch binding
        (`MedfusionDicom.Torch`) against python3-torch running the same modules on the same weights and input
        (written to safetensors by the C# side, loaded by `bench/torch/bench.py`), with the libtorch thread count set
        explicitly and equally on both sides. One run drives a long-lived Python process and alternates single
        iterations (a PyTorch one, then ours), so that load from other processes on this shared 2-core machine falls on
        both alike; medians (and minima) over the timed iterations. Target: ours / PyTorch ≤ 1.05.

        Command (from the repository root):

        ```
        dotnet run --project bench/torch -c Release -- --write
        ```

        Result: {summary}.

        {table.TrimEnd()}

        """;
    int start = text.IndexOf("## Tensor runtime", StringComparison.Ordinal);
    if (start >= 0)
    {
        int next = text.IndexOf("\n## ", start + 3, StringComparison.Ordinal);
        text = text[..start] + section.TrimEnd() + "\n" + (next >= 0 ? text[next..] : "");
    }
    else text = text.TrimEnd() + "\n\n" + section;
    File.WriteAllText(path, text);
    Console.WriteLine($"wrote {path}");
}

static string FindRepoRoot()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "MedfusionDicom.sln"))) return d.FullName;
    throw new InvalidOperationException("repository root (MedfusionDicom.sln) not found");
}

static Dictionary<string, int> Args(string[] a)
{
    var d = new Dictionary<string, int>();
    for (int i = 0; i < a.Length; i++)
    {
        var k = a[i].TrimStart('-');
        if (i + 1 < a.Length && int.TryParse(a[i + 1], out int v)) { d[k] = v; i++; } else d[k] = 1;
    }
    return d;
}

/// <summary>GroupNorm(32) → SiLU → Conv3x3 → GroupNorm(32) → SiLU → Conv3x3, plus the skip connection.</summary>
internal sealed class ResBlock : nn.Module<Tensor, Tensor>
{
    private readonly GroupNorm norm1, norm2;
    private readonly Conv2d conv1, conv2;

    public ResBlock(long c) : base(nameof(ResBlock))
    {
        norm1 = MedfusionDicom.Torch.NN.Layers.GroupNorm(32, c);
        conv1 = nn.Conv2d(c, c, 3, padding: 1);
        norm2 = MedfusionDicom.Torch.NN.Layers.GroupNorm(32, c);
        conv2 = nn.Conv2d(c, c, 3, padding: 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = conv1.call(nn.functional.silu(norm1.call(x)));
        return (x + conv2.call(nn.functional.silu(norm2.call(h)))).MoveToOuterDisposeScope();
    }
}

internal static partial class NativeEnvironment
{
    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    internal static partial int setenv(string name, string value, int overwrite);
}
