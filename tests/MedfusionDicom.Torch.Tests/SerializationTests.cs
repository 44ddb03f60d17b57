using MedfusionDicom.Torch.Serialization;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MedfusionDicom.Torch.Tests;

public sealed class CheckpointFixture : IDisposable
{
    public string Dir { get; } = Oracle.TempDir("torch-ckpt");
    public string Marker => Path.Combine(Dir, "pwned");
    public CheckpointFixture() => Oracle.Run("make_checkpoints.py", Dir, Marker);
    public string this[string file] => Path.Combine(Dir, file);
    public void Dispose() { try { Directory.Delete(Dir, true); } catch (IOException) { } }
}

public sealed class SerializationTests : IClassFixture<CheckpointFixture>
{
    private readonly CheckpointFixture f;
    public SerializationTests(CheckpointFixture fixture) { f = fixture; }

    /// <summary>The model of make_checkpoints.py, written with our API: its parameter names must be PyTorch's.</summary>
    private static Sequential Model() => nn.Sequential(nn.Conv2d(3, 8, 3, padding: 1), MedfusionDicom.Torch.NN.Layers.GroupNorm(2, 8), nn.SiLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 5));

    [Fact]
    public void Pt_file_tensors_of_every_dtype_views_and_shared_storage_load_exactly()
    {
        using var scope = NewDisposeScope();
        var loaded = PyTorchCheckpoint.LoadStateDict(f["tensors.pt"]);
        var expected = Safetensors.LoadStateDict(f["tensors_expected.safetensors"]);
        Assert.Equal(expected.Keys.OrderBy(k => k), loaded.Keys.OrderBy(k => k));
        foreach (var (k, e) in expected)
        {
            var t = loaded[k];
            Assert.Equal(e.dtype, t.dtype);
            Assert.Equal(e.shape, t.shape);
            Assert.True(t.eq(e).all().item<bool>(), k);
        }
        Assert.Equal(2.5f, loaded["scalar"].item<float>());
    }

    [Fact]
    public void Lightning_checkpoint_gives_state_dict_metadata_and_inert_objects()
    {
        using var scope = NewDisposeScope();
        var root = (Dictionary<object, object?>)PyTorchCheckpoint.Load(f["lightning.ckpt"])!;
        Assert.Equal(3L, root["epoch"]);
        Assert.Equal(1200L, root["global_step"]);
        Assert.Equal("2.1.0", root["pytorch-lightning_version"]);
        Assert.Equal(System.Numerics.BigInteger.Pow(2, 70), root["big"]);
        Assert.Equal(-5L, root["neg"]);
        Assert.Equal(3.14159, (double)root["pi"]!, 12);
        var hp = Assert.IsType<PickleObject>(root["hyper_parameters"]);
        Assert.Equal("argparse.Namespace", $"{hp.Module}.{hp.Name}");
        var hpState = Assert.IsType<Dictionary<object, object?>>(hp.State);
        Assert.Equal(1e-4, (double)hpState["lr"]!);
        Assert.Equal("unet", hpState["name"]);
        var opt = (Dictionary<object, object?>)((List<object?>)root["optimizer_states"]!)[0]!;
        var state = (Dictionary<object, object?>)opt["state"]!;
        Assert.IsAssignableFrom<Tensor>(((Dictionary<object, object?>)state[0L]!)["exp_avg"]);
        var cb = (Dictionary<object, object?>)((Dictionary<object, object?>)root["callbacks"]!)["ModelCheckpoint"]!;
        Assert.Equal(0.25f, ((Tensor)cb["best_model_score"]!).item<float>());
    }

    [Fact]
    public void Lightning_weights_load_into_our_module_and_reproduce_pytorch_output()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        Assert.Equal(["0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias"], model.named_parameters().Select(p => p.name));
        // TorchSharp.PyBridge reads flat state dicts only: the nested, prefixed Lightning one is what our reader is kept for.
        Assert.ThrowsAny<Exception>(() => Model().load_py(f["lightning.ckpt"]));
        model.load_nested_checkpoint(f["lightning.ckpt"], stripPrefix: "model.");
        var io = Safetensors.LoadStateDict(f["model_io_after.safetensors"]);
        var y = model.call(io["x"]);
        Assert.True(y.allclose(io["y"], 1e-5, 1e-6), "model output differs from PyTorch's");
    }

    [Fact]
    public void A_plain_state_dict_loads_through_pybridge_and_reproduces_pytorch_output()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        model.load_py(f["state_dict.pt"]);
        var io = Safetensors.LoadStateDict(f["model_io_after.safetensors"]);
        Assert.True(model.call(io["x"]).allclose(io["y"], 1e-5, 1e-6), "model output differs from PyTorch's");
    }

    [Fact]
    public void Unpickling_never_executes_code()
    {
        using var scope = NewDisposeScope();
        var root = (Dictionary<object, object?>)PyTorchCheckpoint.Load(f["evil.pt"])!;
        var payload = Assert.IsType<PickleObject>(root["payload"]);
        Assert.Equal("system", payload.Name);
        Assert.False(File.Exists(f.Marker), "the pickled os.system call ran");
        var e = Assert.Throws<TorchException>(() => PyTorchCheckpoint.LoadStateDict(f["evil.pt"]));
        Assert.Contains("not a state dict of tensors", e.Message);
    }

    [Fact]
    public void Bad_files_give_clear_errors()
    {
        Assert.Contains("missing.pt", Assert.Throws<TorchException>(() => PyTorchCheckpoint.Load(Path.Combine(f.Dir, "missing.pt"))).Message);

        var notZip = Path.Combine(f.Dir, "text.pt");
        File.WriteAllText(notZip, "hello");
        Assert.Contains("not a PyTorch checkpoint", Assert.Throws<TorchException>(() => PyTorchCheckpoint.Load(notZip)).Message);
    }
}
