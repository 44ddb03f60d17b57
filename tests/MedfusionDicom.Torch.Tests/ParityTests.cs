using System.Text.Json;
using MedfusionDicom.Torch.Serialization;
using static MedfusionDicom.Torch.torch;

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
                    output.backward(go);
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
        Safetensors.Save(inPath, inputs);
        Oracle.Run("oracle.py", casesPath, inPath, outPath, errPath, get_num_threads().ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var (k, v) in JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(errPath))!) PythonErrors[k] = v;
        foreach (var (k, t) in Safetensors.Load(outPath)) { Theirs[k] = Snapshot.Of(t); t.Dispose(); }
        foreach (var t in inputs.Values) t.Dispose();
    }

    public void Dispose()
    {
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }
}

public sealed class ParityTests : IClassFixture<ParityFixture>
{
    /// <summary>Tolerance: |ours − theirs| ≤ 1e-5 · |theirs| + 1e-7 elementwise (relative, with a floor for exact zeros).</summary>
    private const double Rtol = 1e-5, Atol = 1e-7;
    private readonly ParityFixture f;
    public ParityTests(ParityFixture fixture) { f = fixture; }

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

    private static void Compare(string what, Snapshot ours, Snapshot theirs)
    {
        Assert.True(ours.DType == theirs.DType, $"{what}: dtype {ours.DType}, PyTorch {theirs.DType}");
        Assert.True(ours.Shape.SequenceEqual(theirs.Shape), $"{what}: shape [{string.Join(",", ours.Shape)}], PyTorch [{string.Join(",", theirs.Shape)}]");
        double worst = 0;
        int at = -1;
        for (int k = 0; k < ours.Values.Length; k++)
        {
            double diff = Math.Abs(ours.Values[k] - theirs.Values[k]), allowed = Rtol * Math.Abs(theirs.Values[k]) + Atol;
            if (diff > allowed && diff - allowed > worst) { worst = diff - allowed; at = k; }
        }
        Assert.True(at < 0, at < 0 ? "" : $"{what}: element {at} is {ours.Values[at]}, PyTorch {theirs.Values[at]}");
    }
}
