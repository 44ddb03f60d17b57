using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Tests.Fixtures;
using MedfusionDicom.Dimse;
using MedfusionDicom.Dimse.Tests;
using MedfusionDicom.Gateway.Storage;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>dcmtk's storescu sends to the gateway; the gateway denoises on its embedded worker and exports to dcmtk's storescp.</summary>
public sealed class EndToEndTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_routed_MR_instance_comes_back_as_a_valid_derived_instance_and_an_unrouted_CT_stays()
    {
        await using var gateway = await GatewayRun.StartAsync();
        var mr = Corpus.Pydicom("MR_small.dcm");
        var ct = Corpus.Pydicom("CT_small.dcm");

        var sent = await gateway.StoreScuAsync([mr, ct]);
        await gateway.WaitForReceivedAsync(1, Patience);

        Assert.True(sent.ExitCode == 0, sent.Output);
        var source = (await DicomFile.OpenAsync(mr)).Dataset;
        var path = Assert.Single(Directory.GetFiles(gateway.Received));
        var derived = (await DicomFile.OpenAsync(path)).Dataset;
        Assert.Equal(["DERIVED", "SECONDARY"], derived.GetString(DicomTag.ImageType).Split('\\')[..2]);
        Assert.Equal(source.GetString(DicomTag.StudyInstanceUID), derived.GetString(DicomTag.StudyInstanceUID));
        Assert.NotEqual(source.GetString(DicomTag.SeriesInstanceUID), derived.GetString(DicomTag.SeriesInstanceUID));
        var reference = Assert.Single(derived.GetSequence(DicomTag.SourceImageSequence).Items);
        Assert.Equal(source.GetString(DicomTag.SOPInstanceUID), reference.GetString(DicomTag.ReferencedSOPInstanceUID));
        Assert.Empty(Dciodvfy.Run(path).ErrorsNotIn(Dciodvfy.Run(mr)));

        // The CT matched no route: stored and indexed, with no job.
        var jobs = await gateway.Index.ListJobsAsync();
        var job = Assert.Single(jobs);
        Assert.Equal(JobState.Done, job.State);
        Assert.Equal(source.GetString(DicomTag.SOPInstanceUID), job.SopInstanceUid);
        var stored = await gateway.Index.ListInstancesAsync();
        Assert.Equal(3, stored.Count); // MR, CT, and the derived MR
        Assert.Single(stored, i => i.Derived);
    }

    [Fact]
    public async Task A_repeated_instance_replaces_its_file_and_keeps_one_index_row()
    {
        await using var gateway = await GatewayRun.StartAsync(o => o.Routes.Clear());
        var ct = Corpus.Pydicom("CT_small.dcm");

        await gateway.StoreScuAsync([ct]);
        var second = await gateway.StoreScuAsync([ct]);

        Assert.True(second.ExitCode == 0, second.Output);
        Assert.Single(await gateway.Index.ListInstancesAsync());
    }

    [Fact]
    public async Task A_colour_instance_on_a_grayscale_route_fails_with_the_reason_and_the_other_instances_complete()
    {
        // Both instances match the route (any SOP class); one is RGB.
        await using var gateway = await GatewayRun.StartAsync(o => o.Routes[0].Match = new() { ["SOPClassUID"] = ["regex:.*"] });
        var rgb = Corpus.Pydicom("SC_rgb_small_odd.dcm");
        var mr = Corpus.Pydicom("MR_small.dcm");

        await gateway.StoreScuAsync([rgb, mr]);
        var jobs = await gateway.WaitForJobsAsync(j => j.Count == 2 && j.All(x => x.State is JobState.Done or JobState.Failed), TimeSpan.FromSeconds(20));

        var failed = Assert.Single(jobs, j => j.State == JobState.Failed);
        Assert.Contains("RGB", failed.LastError, StringComparison.Ordinal);
        Assert.Contains("grayscale", failed.LastError, StringComparison.Ordinal);
        Assert.Equal(1, failed.Attempts); // not retried: it cannot succeed
        Assert.Single(jobs, j => j.State == JobState.Done);
        await gateway.WaitForReceivedAsync(1, Patience);
    }

    [Fact]
    public async Task Callers_outside_AllowedCallers_are_rejected()
    {
        await using var gateway = await GatewayRun.StartAsync(o => o.Dimse.AllowedCallers = [new AllowedCallerOptions { AeTitle = "MODALITY1" }]);

        var stranger = await gateway.StoreScuAsync([Corpus.Pydicom("CT_small.dcm")], callingAe: "STRANGER");
        var allowed = await gateway.StoreScuAsync([Corpus.Pydicom("CT_small.dcm")], callingAe: "MODALITY1");

        Assert.NotEqual(0, stranger.ExitCode);
        Assert.Contains("Association Rejected", stranger.Output, StringComparison.OrdinalIgnoreCase);
        Assert.True(allowed.ExitCode == 0, allowed.Output);
        Assert.Single(await gateway.Index.ListInstancesAsync());
    }

    [Fact]
    public async Task Below_the_disk_watermark_stores_are_refused_with_A700_and_nothing_is_kept()
    {
        await using var gateway = await GatewayRun.StartAsync(o => o.Storage.MinimumFreeMegabytes = long.MaxValue / (2L * 1024 * 1024));

        var scu = new DicomClient(new DicomClientOptions { Host = "127.0.0.1", Port = gateway.Port, CalledAE = gateway.Options.Dimse.AeTitle });
        var refused = Assert.Single(await scu.StoreAsync([Corpus.Pydicom("CT_small.dcm")]));

        Assert.Equal(DicomStatus.OutOfResources, refused.Status);
        Assert.Empty(await gateway.Index.ListInstancesAsync());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(gateway.Options.DataDirectory, "instances"), "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_destination_that_is_down_gets_its_instances_when_it_returns()
    {
        await using var gateway = await GatewayRun.StartAsync(startDestination: false);
        var port = gateway.Options.Destinations[0].Port;

        await gateway.StoreScuAsync([Corpus.Pydicom("MR_small.dcm")]);
        await gateway.WaitForJobsAsync(j => j.Count == 1 && j[0].State == JobState.Done, Patience);
        await Tools.WaitForAsync(async () => (await gateway.Index.ListExportsAsync()).Any(e => e.Attempts >= 1 && e.State == ExportState.Queued), Patience, "a failed export attempt");
        await using var late = new PeerProcess("storescp", ["-aet", GatewayRun.DestinationAe, "-od", gateway.Received, "-uf", port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await gateway.WaitForReceivedAsync(1, Patience);

        var export = Assert.Single(await gateway.Index.ListExportsAsync());
        Assert.True(export.Attempts >= 2, $"{export.Attempts} attempt(s)");
    }

    [Fact]
    public async Task A_route_naming_a_model_no_worker_serves_stops_the_start_with_the_key()
    {
        var error = await Assert.ThrowsAsync<GatewayConfigurationException>(() =>
            GatewayRun.StartAsync(o => o.Routes[0].Pipeline.Model = "no-such-model"));

        Assert.Contains("Gateway:Routes:0:Pipeline:Model", error.Message, StringComparison.Ordinal);
        Assert.Contains("cdiff-cxr-denoise", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_inpainting_route_fills_the_overlay_plane_or_its_boxes_and_keeps_every_other_pixel_bit_for_bit(bool overlay)
    {
        using var models = new TempDir();
        await using var gateway = await GatewayRun.StartAsync(o =>
        {
            o.ModelsDirectory = GatewayRun.LinkModels(models, "cdiff-cxr-inpaint");
            o.Routes[0] = new RouteOptions
            {
                Name = "fill-annotations",
                Match = new() { ["Modality"] = ["MR"] },
                // Without an overlay plane the boxes say what to fill (with one, the boxes are ignored: here they are elsewhere).
                Pipeline = new PipelineOptions { Task = "inpaint", Model = "cdiff-cxr-inpaint", Steps = 2, MaskBoxes = overlay ? [[0, 0, 4, 4]] : [[30, 20, 12, 8]] },
                Destinations = ["scp"],
            };
        });
        var annotated = overlay ? WithOverlay(Corpus.Pydicom("MR_small.dcm"), x: 30, y: 20, w: 12, h: 8, Path.Combine(gateway.Dir.Path, "annotated.dcm"))
            : Corpus.Pydicom("MR_small.dcm");

        await gateway.StoreScuAsync([annotated]);
        await gateway.WaitForReceivedAsync(1, Patience);

        var source = MedfusionDicom.Imaging.SourceImage.Open(DicomFile.Open(annotated).Dataset).StoredValues(0);
        var result = MedfusionDicom.Imaging.SourceImage.Open(DicomFile.Open(Directory.GetFiles(gateway.Received).Single()).Dataset).StoredValues(0);
        bool Inside(int i) => i % 64 >= 30 && i % 64 < 42 && i / 64 >= 20 && i / 64 < 28;
        Assert.All(Enumerable.Range(0, source.Length).Where(i => !Inside(i)), i => Assert.Equal(source[i], result[i]));
        Assert.Contains(Enumerable.Range(0, source.Length).Where(Inside), i => source[i] != result[i]);
        Assert.Empty(Dciodvfy.Run(Directory.GetFiles(gateway.Received).Single()).ErrorsNotIn(Dciodvfy.Run(annotated)));
    }

    /// <summary>A copy of a 64 x 64 instance with an overlay plane (group 6000) marking a rectangle, as a burned-in annotation would.</summary>
    private static string WithOverlay(string path, int x, int y, int w, int h, string output)
    {
        var ds = DicomFile.Open(path).Dataset.Clone();
        var bits = new byte[64 * 64 / 8];
        for (var r = y; r < y + h; r++)
            for (var c = x; c < x + w; c++)
                bits[(r * 64 + c) >> 3] |= (byte)(1 << ((r * 64 + c) & 7));
        ds.AddOrUpdate(DicomTag.OverlayRows, (ushort)64).AddOrUpdate(DicomTag.OverlayColumns, (ushort)64).AddOrUpdate(DicomTag.OverlayType, "G")
            .AddOrUpdate(new DicomElement(DicomTag.OverlayOrigin, DicomVR.SS, new byte[] { 1, 0, 1, 0 }))
            .AddOrUpdate(DicomTag.OverlayBitsAllocated, (ushort)1).AddOrUpdate(DicomTag.OverlayBitPosition, (ushort)0)
            .AddOrUpdate(new DicomElement(DicomTag.OverlayData, DicomVR.OW, bits))
            .AddOrUpdate(DicomTag.SOPInstanceUID, DicomUID.Generate().UID);
        new DicomFile(ds).Save(output);
        return output;
    }

    [SharedDataFact]
    public async Task The_shared_MR_series_is_indexed_routed_and_exported_whole()
    {
        await using var gateway = await GatewayRun.StartAsync(o => o.Routes[0].Match = new() { ["Modality"] = ["MR"] });
        var files = Directory.GetFiles(Corpus.MrSeriesDir!, "*.dcm");

        var sent = await gateway.StoreScuAsync(files);
        await gateway.WaitForReceivedAsync(files.Length, TimeSpan.FromMinutes(5));

        Assert.True(sent.ExitCode == 0, sent.Output);
        var derived = (await gateway.Index.ListInstancesAsync()).Where(i => i.Derived).ToList();
        Assert.Equal(files.Length, derived.Count);
        Assert.Single(derived.Select(i => i.SeriesInstanceUid).Distinct());
        Assert.Empty(Dciodvfy.Run(Directory.GetFiles(gateway.Received)[0]).ErrorsNotIn(Dciodvfy.Run(files[0])));
    }
}
