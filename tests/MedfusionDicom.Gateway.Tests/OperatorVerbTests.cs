using MedfusionDicom.Dicom;
using MedfusionDicom.Dimse.Tests;
using MedfusionDicom.Gateway.Storage;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>`medfusion jobs` and `medfusion studies`, run as processes on the settings and database of a running gateway.</summary>
public sealed class OperatorVerbTests
{
    private static Task<ToolResult> Medfusion(params string[] arguments) => Tools.RunAsync("dotnet", [GatewayProcess.Cli, .. arguments]);

    [Fact]
    public async Task Studies_list_and_jobs_list_show_what_the_gateway_did_and_jobs_cancel_and_retry_act_on_one_job()
    {
        await using var gateway = await GatewayRun.StartAsync();
        var settings = GatewayProcess.WriteSettings(gateway.Options, Path.Combine(gateway.Dir.Path, "site.json"));
        var mr = Corpus.Pydicom("MR_small.dcm");
        await gateway.StoreScuAsync([mr]);
        var job = (await gateway.WaitForJobsAsync(j => j.Count == 1 && j[0].State == JobState.Done, TimeSpan.FromSeconds(120)))[0];
        await gateway.WaitForReceivedAsync(1, TimeSpan.FromSeconds(120));

        var studies = await Medfusion("studies", "list", "--config", settings);
        var done = await Medfusion("jobs", "list", "--state", "done", "--config", settings);
        var failed = await Medfusion("jobs", "list", "--state", "failed", "--config", settings);
        var badState = await Medfusion("jobs", "list", "--state", "finished", "--config", settings);
        var cancelDone = await Medfusion("jobs", "cancel", job.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), "--config", settings);
        var retry = await Medfusion("jobs", "retry", job.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), "--config", settings);

        Assert.True(studies.ExitCode == 0, studies.Output);
        Assert.Contains(DicomFile.Open(mr).Dataset.GetString(DicomTag.StudyInstanceUID), studies.Stdout, StringComparison.Ordinal);
        Assert.Contains("1 received, 1 derived", studies.Stdout, StringComparison.Ordinal);
        Assert.Contains("derived by route denoise; exports 1 done", studies.Stdout, StringComparison.Ordinal);
        Assert.Contains(job.SopInstanceUid, done.Stdout, StringComparison.Ordinal);
        Assert.Contains("1 job(s)", done.Stdout, StringComparison.Ordinal);
        Assert.Contains("0 job(s)", failed.Stdout, StringComparison.Ordinal);
        Assert.Equal(2, badState.ExitCode);
        Assert.Contains("--state 'finished' is not one of", badState.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, cancelDone.ExitCode); // a finished job cannot be cancelled
        Assert.True(retry.ExitCode == 0, retry.Output);
        // Retried, the job runs again and rewrites the same derived instance: still one at the destination.
        await gateway.WaitForJobsAsync(j => j[0].State == JobState.Done && j[0].UpdatedAtMs > job.UpdatedAtMs, TimeSpan.FromSeconds(120));
        await Task.Delay(1500);
        Assert.Single(Directory.GetFiles(gateway.Received));
    }
}
