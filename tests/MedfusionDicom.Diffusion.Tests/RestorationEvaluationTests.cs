using MedfusionDicom.Diffusion.Data;
using MedfusionDicom.Diffusion.Evaluation;
using MedfusionDicom.Diffusion.Networks;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Schedulers;

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
