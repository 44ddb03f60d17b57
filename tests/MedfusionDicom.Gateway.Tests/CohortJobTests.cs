using System.Text.Json;
using Grpc.Core;
using Medfusion.V1;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dimse.Tests;
using MedfusionDicom.Grpc.Client;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>
/// A synthetic cohort as a gateway job, started through the gateway's gRPC API (medfusion.v1.Gateway): it is made,
/// stored and indexed (never routed, though its images are DX), and exported to a destination.
/// </summary>
public sealed class CohortJobTests
{
    [Fact]
    public async Task StartCohort_makes_a_cohort_the_gateway_stores_and_exports_and_WatchCohort_follows_it_to_the_end()
    {
        var apiPort = Tools.FreePort();
        await using var gateway = await GatewayRun.StartAsync(o =>
        {
            // The test options' models folder has the denoiser; the cohort needs the Medfusion model beside it.
            Directory.CreateSymbolicLink(Path.Combine(o.ModelsDirectory, "medfusion-cxr"), Path.Combine(GatewayRun.RepoRoot, "models", "medfusion-cxr"));
            o.Grpc.Url = $"http://127.0.0.1:{apiPort}";
        });
        using var channel = GrpcClientChannel.ForAddress(gateway.Service.GrpcUrl!);
        var client = new Medfusion.V1.Gateway.GatewayClient(channel.Channel);

        // Bad settings are refused at once, with the reason.
        var bad = await Assert.ThrowsAsync<RpcException>(async () => await client.StartCohortAsync(new StartCohortRequest
            { Model = "medfusion-cxr", Patients = 2, Mix = { new LabelShare { Label = "EDEMA", Fraction = 1 } } }));
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.Contains("no label 'EDEMA'", bad.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.InvalidArgument, (await Assert.ThrowsAsync<RpcException>(async () => await client.StartCohortAsync(new StartCohortRequest
            { Model = "medfusion-cxr", Patients = 2, Mix = { new LabelShare { Label = "NORMAL", Fraction = 1 } }, Destinations = { "nowhere" } }))).StatusCode);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(async () => await client.GetCohortAsync(new CohortJobRequest { Id = "none" }))).StatusCode);

        var started = await client.StartCohortAsync(new StartCohortRequest
        {
            Model = "medfusion-cxr",
            Patients = 4,
            Mix = { new LabelShare { Label = "NORMAL", Fraction = 0.5 }, new LabelShare { Label = "PNEUMONIA", Fraction = 0.5 } },
            Seed = 3,
            Destinations = { "scp" },
        });
        Assert.Equal("queued", started.State);
        Assert.Equal(4u, started.ImagesTotal);

        var updates = new List<CohortJob>();
        using var watch = client.WatchCohort(new CohortJobRequest { Id = started.Id }, deadline: DateTime.UtcNow.AddMinutes(5));
        await foreach (var update in watch.ResponseStream.ReadAllAsync()) updates.Add(update);
        var done = updates[^1];
        Assert.True(done.State == "done", $"{done.State}: {done.Error}");
        Assert.Contains(updates, u => u.State == "running");
        Assert.Equal(4u, done.ImagesDone);
        Assert.Equal(4, done.StudyInstanceUids.Count);
        using (var report = JsonDocument.Parse(done.ReportJson))
            Assert.Equal(4, report.RootElement.GetProperty("images").GetInt32());

        // In the store and the index as made instances: four studies of one DX image, and no job routed them.
        var instances = (await gateway.Index.ListInstancesAsync()).ToList();
        Assert.Equal(4, instances.Count);
        Assert.All(instances, i => Assert.True(i.Derived && i.Modality == "DX" && File.Exists(i.Path), i.Path));
        Assert.Equal(done.StudyInstanceUids.Order(StringComparer.Ordinal), instances.Select(i => i.StudyInstanceUid).Order(StringComparer.Ordinal));
        await Task.Delay(2000);
        Assert.Empty(await gateway.Index.ListJobsAsync());

        // Exported: the destination has every instance, each still saying it is synthetic.
        await gateway.WaitForReceivedAsync(4, TimeSpan.FromSeconds(60));
        var received = Directory.GetFiles(gateway.Received).Select(f => DicomFile.Open(f).Dataset).ToList();
        Assert.Equal(instances.Select(i => i.SopInstanceUid).Order(StringComparer.Ordinal), received.Select(d => d.GetString(DicomTag.SOPInstanceUID)).Order(StringComparer.Ordinal));
        Assert.All(received, d => Assert.Equal("YES", d.GetString(DicomTag.SyntheticData)));
        Assert.Equal("done", (await client.GetCohortAsync(new CohortJobRequest { Id = started.Id })).State);
    }
}

/// <summary>Cohort jobs outlive the gateway: job.json says where each stood, and a start queues the unfinished ones again.</summary>
public sealed class CohortJobRestartTests
{
    [Fact]
    public async Task A_job_that_was_queued_or_running_is_queued_again_at_start_and_a_done_one_stays_done()
    {
        using var dir = new TempDir();
        var options = GatewayRun.TestOptions(dir, destinationPort: 1);
        Directory.CreateSymbolicLink(Path.Combine(options.ModelsDirectory, "medfusion-cxr"), Path.Combine(GatewayRun.RepoRoot, "models", "medfusion-cxr"));
        var index = Storage.GatewayIndex.ForDataDirectory(options.DataDirectory);
        await index.MigrateAsync();
        Cohorts.CohortJobs Jobs() => new(options, index, new Storage.InstanceFiles(options.DataDirectory), new PipelineSignals(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

        var spec = new Cohorts.CohortJobSpec { Model = "medfusion-cxr", Patients = 2, Mix = Cohorts.LabelShare.ParseMix("NORMAL=1") };
        var first = Jobs();
        var running = first.Start(spec);
        var done = first.Start(spec);
        // As a gateway killed mid-run leaves them: one running, one done.
        foreach (var (job, state) in new[] { (running, "running"), (done, "done") })
        {
            var path = Path.Combine(options.DataDirectory, "cohorts", job.Id, "job.json");
            File.WriteAllText(path, File.ReadAllText(path).Replace("\"state\": \"queued\"", $"\"state\": \"{state}\"", StringComparison.Ordinal));
        }

        var again = Jobs();
        again.Load();
        Assert.Equal(Cohorts.CohortJobState.Queued, again.Get(running.Id)!.State);
        Assert.Equal(Cohorts.CohortJobState.Done, again.Get(done.Id)!.State);
        Assert.Throws<Cohorts.CohortException>(() => again.Start(spec with { Model = "../models/medfusion-cxr" }));
    }
}
