using System.Diagnostics;
using System.Text.Json;
using MedfusionDicom.Diffusion.Models;
using MedfusionDicom.Diffusion.Networks;
using MedfusionDicom.Diffusion.Training;
using MedfusionDicom.Torch;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MedfusionDicom.Diffusion.Tests;

/// <summary>
/// The bundled networks, with their own weights, against the PyTorch reference modules (Parity/medfusion_reference.py)
/// on python3-torch 1.13: the output and the gradient of every parameter and of the input, for sum(output · g).
/// TorchSharp runs libtorch 2.10, whose kernels may add in another order, hence normwise 1e-4 (max |difference| over
/// max |PyTorch|); the measured maxima are logged (bench/RESULTS.md, "Tensor runtime").
/// </summary>
public class BundledNetworkParityTests(ITestOutputHelper log)
{
    private const double Tolerance = 1e-4;

    public static TheoryData<string, string> Networks() => new()
    {
        { "medfusion-cxr/vae", "vae" },
        { "medfusion-cxr", "unet" },
        { "cdiff-cxr-denoise", "unet" },
        { "cdiff-cxr-inpaint", "unet" },
    };

    [Theory]
    [MemberData(nameof(Networks))]
    public void Outputs_and_gradients_match_pytorch_on_the_bundled_weights(string model, string kind)
    {
        using var scope = NewDisposeScope();
        var dir = Path.Combine(TestNets.RepoRoot(), "models", model);
        var card = ModelLoader.LoadCard(dir);
        var tmp = Directory.CreateTempSubdirectory("bundled-parity").FullName;
        try
        {
            using var generator = new Generator(5);
            nn.Module net;
            Dictionary<string, Tensor> inputs;
            Tensor input, output;
            object config;
            if (kind == "vae")
            {
                var vae = ModelLoader.LoadVae(dir);
                net = vae;
                input = randn([2, 1, card.ImageSize, card.ImageSize], generator: generator).requires_grad_();
                output = vae.Decode(vae.EncodeMoments(input).mean);
                inputs = new() { ["image"] = input.detach() };
                config = card.Vae!;
            }
            else
            {
                var (_, unet, _) = ModelLoader.LoadDiffusion(dir);
                net = unet;
                var side = card.Kind == ModelKind.Medfusion ? card.ImageSize / 8 : card.ImageSize / 2;
                input = randn([2, card.Unet!.InChannels, side, side], generator: generator).requires_grad_();
                var t = tensor(new long[] { 17, 640 });
                Tensor? labels = card.Unet.NumClasses > 0 ? tensor(new long[] { 1, 0 }) : null;
                output = unet.Forward(input, t, labels, null).output;
                inputs = new() { ["x"] = input.detach(), ["t"] = t };
                if (labels is not null) inputs["labels"] = labels;
                config = card.Unet;
            }
            using var _ = net;
            var go = randn(output.shape, generator: generator);
            inputs["go"] = go;
            (output * go).sum().backward();
            File.WriteAllText(Path.Combine(tmp, "cfg.json"), JsonSerializer.Serialize(config, ConfigJson.Options));
            Safetensors.SaveStateDict(Path.Combine(tmp, "in.safetensors"), inputs);
            var weights = Path.Combine(dir, ModelLoader.WeightsFile);
            var script = Path.Combine(TestNets.RepoRoot(), "tests", "MedfusionDicom.Diffusion.Tests", "Parity", "network_gradients.py");
            var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = tmp };
            foreach (var a in new[] { script, kind, "cfg.json", weights, "in.safetensors", "out.safetensors" }) psi.ArgumentList.Add(a);
            using (var p = Process.Start(psi)!)
            {
                var err = p.StandardError.ReadToEnd();
                p.WaitForExit();
                Assert.True(p.ExitCode == 0, "python3-torch failed: " + err);
            }
            var theirs = Safetensors.LoadStateDict(Path.Combine(tmp, "out.safetensors"));
            var ours = new Dictionary<string, Tensor> { ["out"] = output.detach(), ["grad.input"] = input.grad! };
            foreach (var (name, parameter) in net.named_parameters())
                if (parameter.grad is { } g) ours[$"grad.{name}"] = g;
            Assert.Equal(theirs.Keys.Order(), ours.Keys.Order());
            Assert.True(output.abs().mean().item<float>() > 1e-2, "the output is too small for the comparison to mean anything");
            var worst = ("", 0.0);
            foreach (var (name, mine) in ours)
            {
                var reference = theirs[name];
                var relative = (mine - reference).abs().max().item<float>() / Math.Max(reference.abs().max().item<float>(), 1e-30);
                if (relative > worst.Item2) worst = (name, relative);
                Assert.True(relative <= Tolerance, $"{model} {name}: {relative:E2} of the largest magnitude");
            }
            log.WriteLine($"{model}: output {Relative("out"):E2}, input gradient {Relative("grad.input"):E2}, " +
                $"worst of {ours.Count - 2} parameter gradients {worst.Item1} {worst.Item2:E2}");

            double Relative(string name) => (ours[name] - theirs[name]).abs().max().item<float>() / theirs[name].abs().max().item<float>();
        }
        finally
        {
            Directory.Delete(tmp, true);
        }
    }
}
