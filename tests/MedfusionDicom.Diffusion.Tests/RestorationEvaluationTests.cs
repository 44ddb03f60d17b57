using MedfusionDicom.Diffusion.Data;
using MedfusionDicom.Diffusion.Evaluation;
using MedfusionDicom.Diffusion.Models;
using MedfusionDicom.Diffusion.Networks;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Schedulers;
using MedfusionDicom.Diffusion.Training;

namespace MedfusionDicom.Diffusion.Tests;

public class RestorationEvaluationTests
{
    private static RestorationReport Evaluate(RestorationTask task)
    {
        using var data = CxrDataset.Open(Path.Combine(SharedData.Root!, "cxr-pneumonia", "cxr64.npy"));
        using var unet = new MedfusionUNet(TestNets.TinyUNet(RestorationPipeline.InputChannels(task), 1, 0));
        var pipe = new RestorationPipeline(unet, new GaussianScheduler(SchedulerConfig.MedCDiff), task);
        return RestorationEvaluation.Run(pipe, data, 2, 2, SamplerKind.Ddim, 1);
    }

    [SharedDataFact]
    public void Denoising_report_has_the_baselines_and_the_noisy_input_is_about_20_dB()
    {
        var r = Evaluate(RestorationTask.Denoise);
        Assert.Equal(new[] { "noisy input", "median 3x3", "Med-cDiff" }, r.Scores.Select(s => s.Method));
        // σ = 0.1 on [-1, 1] alone gives 26 dB; 2 % salt and pepper pulls it to about 20 dB.
        Assert.InRange(r.Scores[0].Psnr, 17, 23);
        Assert.True(r.Scores[1].Psnr > r.Scores[0].Psnr);
        Assert.Contains("| median 3x3 |", r.ToMarkdown());
    }

    [SharedDataFact]
    public void Inpainting_evaluation_leaves_pixels_outside_the_mask_unchanged()
    {
        var r = Evaluate(RestorationTask.Inpaint);
        Assert.Equal(0, r.MaxChangeOutsideMask);
        Assert.Equal(new[] { "harmonic fill", "Med-cDiff" }, r.Scores.Select(s => s.Method));
    }

    [SharedDataFact]
    public void Super_resolution_evaluation_compares_with_bicubic()
    {
        var r = Evaluate(RestorationTask.SuperResolve);
        Assert.Equal("bicubic", r.Scores[0].Method);
        Assert.True(r.Scores[0].Psnr > 20);
    }
}

/// <summary>The bundled demo models against the classic baselines (issue 4's acceptance), at the models' own defaults.</summary>
public class BundledRestorationModelTests
{
    private static RestorationReport Evaluate(string name)
    {
        var repo = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(repo.FullName, "MedfusionDicom.sln"))) repo = repo.Parent ?? throw new InvalidOperationException("repository root not found");
        var (cfg, unet, scheduler) = ModelLoader.LoadDiffusion(Path.Combine(repo.FullName, "models", name));
        using var _ = unet;
        using var data = CxrDataset.Open(Path.Combine(SharedData.Root!, "cxr-pneumonia", "cxr128.npy"));
        return RestorationEvaluation.Run(ModelLoader.RestorationPipeline(cfg, unet, scheduler), data, 8, cfg.RestorationSteps, SamplerKind.Ddim, 0,
            cfg.Scale, ModelStore.LoadConfig(Path.Combine(repo.FullName, "models", name)).MinBox, ModelStore.LoadConfig(Path.Combine(repo.FullName, "models", name)).MaxBox,
            strength: cfg.MaxStrength, intensity: cfg.IntensityConvention);
    }

    [SharedDataFact]
    public void Denoising_beats_the_median_filter_and_the_noisy_input_by_3_dB()
    {
        var r = Evaluate("cdiff-cxr-denoise");
        double noisy = r.Scores[0].Psnr, median = r.Scores[1].Psnr, model = r.Scores[2].Psnr;
        Assert.True(model > median, $"Med-cDiff {model:F2} dB, median 3x3 {median:F2} dB");
        Assert.True(model >= noisy + 3, $"Med-cDiff {model:F2} dB, noisy input {noisy:F2} dB");
    }

    [SharedDataFact]
    public void Super_resolution_beats_bicubic_and_is_sharper()
    {
        var r = Evaluate("cdiff-cxr-sr2x");
        var (bicubic, model) = (r.Scores[0], r.Scores[1]);
        Assert.True(model.Psnr > bicubic.Psnr, $"Med-cDiff {model.Psnr:F2} dB, bicubic {bicubic.Psnr:F2} dB");
        Assert.True(model.Gradient > bicubic.Gradient, $"mean gradient: Med-cDiff {model.Gradient:F4}, bicubic {bicubic.Gradient:F4}");
    }

    [SharedDataFact]
    public void Inpainting_is_within_1_dB_of_the_harmonic_fill_keeps_texture_and_leaves_the_rest_alone()
    {
        var r = Evaluate("cdiff-cxr-inpaint");
        var (harmonic, model) = (r.Scores[0], r.Scores[1]);
        Assert.True(model.Psnr >= harmonic.Psnr - 1, $"PSNR in the mask: Med-cDiff {model.Psnr:F2} dB, harmonic fill {harmonic.Psnr:F2} dB");
        // Texture: the harmonic fill is the smoothest fill there is; the model's fill must be markedly rougher and come
        // close to the clean images' own gradient in the mask.
        Assert.True(model.Gradient > harmonic.Gradient * 1.25, $"mean gradient in the mask: Med-cDiff {model.Gradient:F4}, harmonic fill {harmonic.Gradient:F4}");
        Assert.True(model.Gradient > r.CleanGradient * 0.8, $"mean gradient in the mask: Med-cDiff {model.Gradient:F4}, clean {r.CleanGradient:F4}");
        Assert.Equal(0, r.MaxChangeOutsideMask);
    }
}
