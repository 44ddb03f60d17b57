using TorchSharp.PyBridge;
using System.Text.Json;
using static TorchSharp.torch;

namespace MedfusionDicom.Torch.Tests;

/// <summary>A tensor's dtype, shape and values (as doubles), detached from native memory.</summary>
public sealed record Snapshot(ScalarType DType, long[] Shape, double[] Values)
{
    public static Snapshot Of(Tensor t) => new(t.dtype, t.shape, t.ToArray<double>());
}

/// <summary>Runs every case with our binding, then once with PyTorch (one python process for all).</summary>
public sealed class ParityFixture : IDisposable
{
    public Dictionary<string, (Snapshot? Out, Dictionary<string, Snapshot> Grads, string? Error)> Ours { get; } = new();
    public Dictionary<string, Snapshot> Theirs { get; } = new();
    public Dictionary<string, string> PythonErrors { get; } = new();
    private readonly string dir = Oracle.TempDir("torch-parity");

    public ParityFixture()
    {
        var cases = ParityCases.Build();
        var inputs = new Dictionary<string, Tensor>();
        var manifest = new List<object>();
        using var goGen = new Generator(99);
        foreach (var c in cases)
        {
            var names = c.Inputs.Select((_, k) => ((char)('a' + k)).ToString()).ToArray();
            for (int k = 0; k < names.Length; k++) inputs[$"{c.Name}/{names[k]}"] = c.Inputs[k].Value;
            manifest.Add(new { name = c.Name, code = c.Code, inputs = names, grads = names.Where((_, k) => c.Inputs[k].Grad).ToArray() });
            using var scope = NewDisposeScope();
            try
            {
                var leaves = c.Inputs.Select(i => i.Grad ? i.Value.detach().clone().requires_grad_() : i.Value).ToArray();
                var output = c.Ours(leaves);
                var grads = new Dictionary<string, Snapshot>();
                if (output.requires_grad)
                {
                    var go = randn(output.shape, output.dtype, generator: goGen).DetachFromDisposeScope();
                    inputs[$"{c.Name}/__go"] = go;
                    output.backward([go]);
                    for (int k = 0; k < leaves.Length; k++)
                        if (c.Inputs[k].Grad && leaves[k].grad is { } g) grads[names[k]] = Snapshot.Of(g);
                }
                Ours[c.Name] = (Snapshot.Of(output), grads, null);
            }
            catch (Exception e)
            {
                Ours[c.Name] = (null, new(), $"{e.GetType().Name}: {e.Message}");
            }
        }
        string casesPath = Path.Combine(dir, "cases.json"), inPath = Path.Combine(dir, "in.safetensors");
        string outPath = Path.Combine(dir, "out.safetensors"), errPath = Path.Combine(dir, "errors.json");
        File.WriteAllText(casesPath, JsonSerializer.Serialize(manifest));
        Safetensors.SaveStateDict(inPath, inputs);
        Oracle.Run("oracle.py", casesPath, inPath, outPath, errPath, get_num_threads().ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var (k, v) in JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(errPath))!) PythonErrors[k] = v;
        foreach (var (k, t) in Safetensors.LoadStateDict(outPath)) { Theirs[k] = Snapshot.Of(t); t.Dispose(); }
        foreach (var t in inputs.Values) t.Dispose();
    }

    public void Dispose()
    {
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }
}

public sealed class ParityTests : IClassFixture<ParityFixture>
{
    /// <summary>
    /// Tolerance: max |ours − theirs| ≤ 1e-5 · max |theirs| over the tensor (normwise relative error). Elementwise
    /// relative error is no measure for sums whose terms cancel: TorchSharp's libtorch 2.10 and python3-torch 1.13 add in
    /// different orders, and a gradient element of 0.1 made of terms of 1 differs by 2e-5 of itself.
    /// </summary>
    private const double Rtol = 1e-5;
    private readonly ParityFixture f;
    private readonly Xunit.Abstractions.ITestOutputHelper log;
    public ParityTests(ParityFixture fixture, Xunit.Abstractions.ITestOutputHelper log) { f = fixture; this.log = log; }

    public static IEnumerable<object[]> CaseNames()
    {
        var cases = ParityCases.Build();
        foreach (var c in cases)
        {
            yield return [c.Name];
            foreach (var i in c.Inputs) i.Value.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Forward_and_gradients_match_pytorch(string name)
    {
        Assert.False(f.PythonErrors.ContainsKey(name), $"PyTorch failed on {name}: {f.PythonErrors.GetValueOrDefault(name)}");
        var (ours, grads, error) = f.Ours[name];
        Assert.True(error is null, $"ours failed on {name}: {error}");
        Compare($"{name}/out", ours!, f.Theirs[$"{name}/out"]);
        var theirGrads = f.Theirs.Keys.Where(k => k.StartsWith($"{name}/grad/", StringComparison.Ordinal)).ToList();
        Assert.Equal(theirGrads.Count, grads.Count);
        foreach (var k in theirGrads) Compare(k, grads[k[(name.Length + 6)..]], f.Theirs[k]);
    }

    [Fact]
    public void Every_case_with_gradients_checks_them()
    {
        // guards the harness itself: differentiable cases must have produced gradients on both sides
        foreach (var c in ParityCases.Build().Where(c => c.Inputs.Any(i => i.Grad)))
            Assert.True(f.Theirs.Keys.Any(k => k.StartsWith($"{c.Name}/grad/", StringComparison.Ordinal)), $"{c.Name} has no gradients");
    }

    private void Compare(string what, Snapshot ours, Snapshot theirs)
    {
        Assert.True(ours.DType == theirs.DType, $"{what}: dtype {ours.DType}, PyTorch {theirs.DType}");
        Assert.True(ours.Shape.SequenceEqual(theirs.Shape), $"{what}: shape [{string.Join(",", ours.Shape)}], PyTorch [{string.Join(",", theirs.Shape)}]");
        double worst = 0, scale = 0;
        int at = -1;
        for (int k = 0; k < ours.Values.Length; k++)
        {
            scale = Math.Max(scale, Math.Abs(theirs.Values[k]));
            double diff = Math.Abs(ours.Values[k] - theirs.Values[k]);
            if (diff > worst || double.IsNaN(diff)) { worst = double.IsNaN(diff) ? double.PositiveInfinity : diff; at = k; }
        }
        var relative = worst == 0 ? 0 : worst / Math.Max(scale, double.Epsilon);
        log.WriteLine($"{what}: max |ours - PyTorch| / max |PyTorch| = {relative:E2}");
        Assert.True(relative <= Rtol, $"{what}: element {at} is {(at < 0 ? 0 : ours.Values[at])}, PyTorch {(at < 0 ? 0 : theirs.Values[at])} ({relative:E2} of the largest magnitude)");
    }
}
