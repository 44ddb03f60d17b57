using TorchSharp.PyBridge;
using System.Diagnostics;
using System.Text.Json;
using MedfusionDicom.Diffusion.Models;
using MedfusionDicom.Diffusion.Networks;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Training;
using TorchSharp;
using MedfusionDicom.Torch;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Tests;

public class NetworkTests
{
    [Fact]
    public void Vae_shapes_follow_the_downsampling_and_deep_supervision()
    {
        using var scope = NewDisposeScope();
        using var vae = new MedfusionVae(TestNets.TinyVae);
        var x = randn([2, 1, 32, 32]);
        var (mean, logvar) = vae.EncodeMoments(x);
        Assert.Equal(new long[] { 2, 4, 8, 8 }, mean.shape);
        Assert.Equal(mean.shape, logvar.shape);
        var o = vae.forward(x);
        Assert.Equal(x.shape, o.Reconstruction.shape);
        Assert.Equal(new long[] { 2, 1, 16, 16 }, Assert.Single(o.Deep).shape);
        Assert.Equal(0, o.Kl.dim());
    }

    [Fact]
    public void Reference_default_vae_has_the_reference_keys_and_shapes()
    {
        using var scope = NewDisposeScope();
        using var vae = new MedfusionVae(new VaeConfig());
        var sd = vae.state_dict();
        // A sample of keys as they appear in released Medfusion VAE checkpoints (Lightning strips nothing here).
        Assert.Equal(new long[] { 64, 1, 3, 3 }, sd["inc.block_seq.0.basic_block.conv.weight"].shape);
        Assert.Equal(new long[] { 64 }, sd["inc.block_seq.1.basic_block.norm.weight"].shape);
        Assert.Equal(new long[] { 64, 1, 1, 1 }, sd["inc.block_seq.0.conv_res.weight"].shape);
        Assert.Equal(new long[] { 128, 64, 3, 3 }, sd["encoders.0.down_op.down_op.weight"].shape);
        Assert.Equal(new long[] { 16, 512, 3, 3 }, sd["out_enc.0.conv.weight"].shape);
        Assert.Equal(new long[] { 256, 512, 3, 3 }, sd["decoders.2.up_op.up_op.weight"].shape);
        Assert.Equal(new long[] { 1, 128, 1, 1 }, sd["outc_ver.0.conv.weight"].shape);
        Assert.DoesNotContain(sd.Keys, k => k.Contains("encoders.0.conv_block.block_seq.0.conv_res"));
        var o = vae.forward(randn([1, 1, 32, 32]));
        Assert.Equal(new long[] { 1, 1, 32, 32 }, o.Reconstruction.shape);
    }

    [Fact]
    public void Reference_default_unet_has_the_reference_keys()
    {
        using var scope = NewDisposeScope();
        using var unet = new MedfusionUNet(new UNetConfig { NumClasses = 2, HidChs = [32, 32, 64, 128], EmbDim = 128 });
        var sd = unet.state_dict();
        Assert.Equal(new long[] { 128, 32 }, sd["time_embedder.time_emb.1.weight"].shape);
        Assert.Equal(new long[] { 128, 128 }, sd["time_embedder.time_emb.3.weight"].shape);
        Assert.Equal(new long[] { 2, 128 }, sd["cond_embedder.embedding.weight"].shape);
        Assert.Equal(new long[] { 32, 128 }, sd["inc.local_embedder.1.weight"].shape);
        Assert.Equal(new long[] { 64, 128 }, sd["encoders.1.conv_block.local_embedder.1.weight"].shape);
        Assert.Equal(new long[] { 8, 32, 1, 1 }, sd["outc.conv.conv.weight"].shape);
        Assert.False(sd.ContainsKey("outc_ver.0.conv.conv.weight"));
    }

    [Fact]
    public void Unet_shapes_for_class_conditional_and_concatenated_conditions()
    {
        using var scope = NewDisposeScope();
        using var med = new MedfusionUNet(TestNets.TinyUNet(4, 4, 2, deep: 1));
        var (y, deep) = med.Forward(randn([3, 4, 8, 8]), tensor(new float[] { 0, 10, 999 }), tensor(new long[] { 0, 1, 1 }), null);
        Assert.Equal(new long[] { 3, 4, 8, 8 }, y.shape);
        Assert.Equal(new long[] { 3, 4, 4, 4 }, Assert.Single(deep).shape);
        foreach (var task in Enum.GetValues<RestorationTask>())
        {
            using var net = new MedfusionUNet(TestNets.TinyUNet(RestorationPipeline.InputChannels(task), 1, 0));
            var x = randn([2, 1, 16, 16]);
            var mask = task == RestorationTask.Inpaint ? zeros([2, 1, 16, 16]) : null;
            Assert.Equal(x.shape, net.call(RestorationPipeline.NetworkInput(x, x, mask), tensor(new float[] { 5, 1500 }), null).shape);
        }
    }

    [Fact]
    public void Bundled_configs_build_and_run()
    {
        var dir = Path.Combine(TestNets.RepoRoot(), "config", "models");
        var files = Directory.GetFiles(dir, "*.json");
        Assert.True(files.Length >= 5);
        foreach (var f in files)
        {
            using var scope = NewDisposeScope();
            var cfg = TrainConfig.Load(f);
            cfg.Validate();
            if (cfg.Kind == ModelKind.Vae)
            {
                using var vae = new MedfusionVae(cfg.Vae!);
                Assert.Equal(new long[] { 1, 1, 32, 32 }, vae.forward(randn([1, 1, 32, 32])).Reconstruction.shape);
            }
            else
            {
                using var unet = new MedfusionUNet(cfg.Unet!);
                var x = randn([1, cfg.Unet!.InChannels, 16, 16]);
                var labels = cfg.Unet.NumClasses > 0 ? tensor(new long[] { 1 }) : null;
                Assert.Equal(new long[] { 1, cfg.Unet.OutChannels, 16, 16 }, unet.call(x, tensor(new float[] { 3 }), labels).shape);
            }
        }
    }

    [Fact]
    public void Seeded_initialisation_and_vae_sampling_are_deterministic()
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        using var a = new MedfusionVae(TestNets.TinyVae);
        manual_seed(7);
        using var b = new MedfusionVae(TestNets.TinyVae);
        var x = randn([1, 1, 16, 16]);
        using var g1 = new Generator(3);
        using var g2 = new Generator(3);
        Assert.Equal(0, TestNets.MaxAbsDiff(a.Encode(x, true, g1), b.Encode(x, true, g2)));
        using var g3 = new Generator(4);
        Assert.True(TestNets.MaxAbsDiff(a.Encode(x, true, g1), a.Encode(x, true, g3)) > 1e-3);
    }

    /// <summary>Our VAE and UNet against an independent PyTorch model (tests/.../Parity/medfusion_reference.py).</summary>
    [Fact]
    public void Vae_and_unet_match_a_pytorch_implementation()
    {
        using var scope = NewDisposeScope();
        var tmp = Directory.CreateTempSubdirectory("parity").FullName;
        try
        {
            var vaeCfg = TestNets.TinyVae;
            var unetCfg = TestNets.TinyUNet(4, 4, 2, deep: 1);
            using var vae = new MedfusionVae(vaeCfg);
            using var unet = new MedfusionUNet(unetCfg);
            TestNets.Randomize(vae, 11);
            TestNets.Randomize(unet, 12);
            var image = randn([2, 1, 32, 32]);
            var latent = randn([2, 4, 8, 8]);
            var t = tensor(new long[] { 3, 871 });
            var labels = tensor(new long[] { 1, 0 });
            Safetensors.SaveStateDict(Path.Combine(tmp, "vae.safetensors"), vae.state_dict());
            Safetensors.SaveStateDict(Path.Combine(tmp, "unet.safetensors"), unet.state_dict());
            Safetensors.SaveStateDict(Path.Combine(tmp, "in.safetensors"), new Dictionary<string, Tensor> { ["image"] = image, ["latent"] = latent, ["t"] = t, ["labels"] = labels });
            File.WriteAllText(Path.Combine(tmp, "cfg.json"), JsonSerializer.Serialize(new { vae = vaeCfg, unet = unetCfg }, ConfigJson.Options));

            var script = Path.Combine(TestNets.RepoRoot(), "tests", "MedfusionDicom.Diffusion.Tests", "Parity", "medfusion_reference.py");
            var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in new[] { script, "cfg.json", "vae.safetensors", "in.safetensors", "unet.safetensors", "out.safetensors" }) psi.ArgumentList.Add(a);
            psi.WorkingDirectory = tmp;
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, "python3-torch (at /usr/bin/python3) failed: " + err);
            var py = Safetensors.LoadStateDict(Path.Combine(tmp, "out.safetensors"));

            using (no_grad())
            {
                var (mean, logvar) = vae.EncodeMoments(image);
                Assert.InRange(TestNets.MaxAbsDiff(mean, py["vae.mean"]), 0, 1e-4);
                Assert.InRange(TestNets.MaxAbsDiff(logvar, py["vae.logvar"]), 0, 1e-4);
                var o = vae.forward(image); // the stochastic path: only its deterministic decode is compared below
                Assert.Equal(py["vae.rec"].shape, o.Reconstruction.shape);
                var rec = vae.Decode(mean);
                Assert.InRange(TestNets.MaxAbsDiff(rec, py["vae.rec"]), 0, 1e-4);
                var (eps, deep) = unet.Forward(latent, t, labels, null);
                Assert.InRange(TestNets.MaxAbsDiff(eps, py["unet.eps"]), 0, 1e-4);
                Assert.InRange(TestNets.MaxAbsDiff(deep[0], py["unet.deep0"]), 0, 1e-4);
                // The outputs must be non-trivial for the comparison to mean anything.
                Assert.True(eps.abs().mean().item<float>() > 1e-2 && rec.abs().mean().item<float>() > 1e-2);
            }
        }
        finally { Directory.Delete(tmp, true); }
    }
}
