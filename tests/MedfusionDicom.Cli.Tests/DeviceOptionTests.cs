namespace MedfusionDicom.Cli.Tests;

/// <summary>--device on the verbs that run a model: a device that is not there is bad input, said in one line.</summary>
public class DeviceOptionTests
{
    [Fact]
    public void Cuda_on_a_machine_without_one_is_bad_input_for_the_worker_and_the_restoration_verbs()
    {
        // This build references TorchSharp-cpu, so no CUDA device is ever visible to it.
        var worker = CliRunner.Run("worker", "--device", "cuda", "--port", "0");
        Assert.Equal(2, worker.ExitCode);
        Assert.Contains("--device cuda: TorchSharp finds no CUDA device", worker.Stderr);
        Assert.DoesNotContain("   at ", worker.Stderr);

        var output = Path.Combine(Path.GetTempPath(), $"device-{Guid.NewGuid():N}.dcm");
        var denoise = CliRunner.Run("denoise", Path.Combine(CliRunner.Corpus, "CT_small.dcm"), output, "--model", "cdiff-cxr-denoise", "--device", "tpu");
        Assert.Equal(2, denoise.ExitCode);
        Assert.Contains("expected cpu, cuda, cuda:N or auto", denoise.Stderr);
        Assert.False(File.Exists(output));
    }
}
