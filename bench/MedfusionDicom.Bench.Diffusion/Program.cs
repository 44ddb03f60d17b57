using TorchSharp.PyBridge;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MedfusionDicom.Diffusion.Networks;
using TorchSharp;
using MedfusionDicom.Torch;
using static TorchSharp.torch;

// Medfusion UNet forward and forward + backward time, ours against the PyTorch model of the parity test (python3-torch at /usr/bin/python3)
// on the same weights and input, one thread each, median of ROUNDS after a warm-up. Runs the two alternately per
// configuration so that load from other processes hits both alike.
int rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5;
set_num_threads(1);
var repo = AppContext.BaseDirectory;
while (!File.Exists(Path.Combine(repo, "MedfusionDicom.sln"))) repo = Path.GetDirectoryName(repo.TrimEnd('/'))!;
var script = Path.Combine(repo, "bench", "MedfusionDicom.Bench.Diffusion", "bench_unet.py");
var configs = new (string name, UNetConfig cfg, long[] shape)[]
{
    ("bundled medfusion-cxr UNet, 4x16x16 latents, batch 4", new UNetConfig { InChannels = 4, OutChannels = 4, HidChs = [64, 64, 128, 128], EmbDim = 256, NumClasses = 2 }, [4, 4, 16, 16]),
    ("reference default UNet (256-256-512-1024), 8x32x32 latents, batch 1", new UNetConfig { NumClasses = 2 }, [1, 8, 32, 32]),
};
Console.WriteLine("| network | pass | ours (s) | python3-torch 1.13 (s) | ours / PyTorch |");
Console.WriteLine("|---|---|---|---|---|");
foreach (var (name, cfg, shape) in configs)
{
    var tmp = Directory.CreateTempSubdirectory("bench").FullName;
    using var scope = NewDisposeScope();
    using var net = new MedfusionUNet(cfg);
    net.eval();
    var x = randn(shape);
    var t = full([shape[0]], 500L, ScalarType.Int64);
    var labels = zeros([shape[0]], ScalarType.Int64);
    Safetensors.SaveStateDict(Path.Combine(tmp, "w.safetensors"), net.state_dict());
    Safetensors.SaveStateDict(Path.Combine(tmp, "in.safetensors"), new Dictionary<string, Tensor> { ["x"] = x, ["t"] = t, ["labels"] = labels });
    File.WriteAllText(Path.Combine(tmp, "cfg.json"), JsonSerializer.Serialize(cfg, ConfigJson.Options));
    var ours = new List<double>();
    using (no_grad())
    {
        net.call(x, t, labels).Dispose();
        for (int r = 0; r < rounds; r++)
        {
            var sw = Stopwatch.StartNew();
            using (NewDisposeScope()) net.call(x, t, labels);
            ours.Add(sw.Elapsed.TotalSeconds);
        }
    }
    var oursBackward = new List<double>();
    for (int r = 0; r <= rounds; r++)
    {
        net.zero_grad();
        var sw = Stopwatch.StartNew();
        using (NewDisposeScope()) net.Forward(x, t, labels, null).output.sum().backward();
        if (r > 0) oursBackward.Add(sw.Elapsed.TotalSeconds);
    }
    var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true };
    foreach (var a in new[] { script, Path.Combine(tmp, "cfg.json"), Path.Combine(tmp, "w.safetensors"), Path.Combine(tmp, "in.safetensors"), rounds.ToString(CultureInfo.InvariantCulture) })
        psi.ArgumentList.Add(a);
    using var p = Process.Start(psi)!;
    var py = p.StandardOutput.ReadToEnd().Trim().Split(' ').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
    p.WaitForExit();
    foreach (var (pass, times, theirs) in new[] { ("forward (no_grad)", ours, py[0]), ("forward + backward", oursBackward, py[1]) })
    {
        times.Sort();
        double med = times[times.Count / 2];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {pass} | {med:F4} | {theirs:F4} | {med / theirs:F2} |"));
    }
    Directory.Delete(tmp, true);
}
