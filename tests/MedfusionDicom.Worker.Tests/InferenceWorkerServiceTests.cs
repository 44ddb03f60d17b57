using System.Buffers.Binary;
using System.Diagnostics;
using Google.Protobuf;
using Medfusion.V1;
using Grpc.Core;
using MedfusionDicom.Worker.Models;
using MedfusionDicom.Worker.Scheduling;

namespace MedfusionDicom.Worker.Tests;

public class InferenceWorkerServiceTests
{
    private static Image U16(int width, int height, Func<int, ushort> value)
    {
        var data = new byte[width * height * 2];
        for (var i = 0; i < width * height; i++) BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(i * 2), value(i));
        return new Image { Width = (uint)width, Height = (uint)height, Channels = 1, PixelType = PixelType.Uint16, Data = ByteString.CopyFrom(data) };
    }

    [Fact]
    public async Task ListModels_reports_every_model_with_task_labels_and_size()
    {
        await using var w = await WorkerFixture.StartAsync(null, StepModel.Synthesis("synth"), StepModel.Restoration("sr", InferenceTask.SuperResolve, 16, 16, 8, 8));
        var list = await w.Client.ListModelsAsync(new ListModelsRequest());
        Assert.Equal(["sr", "synth"], list.Models.Select(m => m.Name));
        Assert.Equal("super-resolve", list.Models[0].Task);
        Assert.Equal(16u, list.Models[0].Width);
        Assert.Equal(["NORMAL", "PNEUMONIA"], list.Models[1].Labels);
        Assert.All(list.Models, m => Assert.Equal("cpu", m.Device));
    }

    [Fact]
    public async Task Denoise_streams_progress_then_the_image_in_the_callers_scale()
    {
        await using var w = await WorkerFixture.StartAsync(null, StepModel.Restoration("dn", InferenceTask.Denoise));
        var input = U16(8, 8, i => (ushort)(1000 + i * 10));
        var updates = await w.CollectAsync(new DenoiseRequest { Model = "dn", Image = input, Sampler = new SamplerOptions { Steps = 6 } });
        Assert.Equal([1u, 2u, 3u, 4u, 5u, 6u], updates.Where(u => u.Progress is not null).Select(u => u.Progress.Step));
        Assert.All(updates.Where(u => u.Progress is not null), u => Assert.Equal(6u, u.Progress.TotalSteps));
        var image = Assert.Single(updates, u => u.Image is not null).Image;
        Assert.Same(updates[^1].Image, image);
        Assert.Equal(PixelType.Uint16, image.PixelType);
        // The test model negates in [-1, 1]; back in the caller's range that mirrors values around its middle.
        var first = BinaryPrimitives.ReadUInt16LittleEndian(image.Data.Span);
        var last = BinaryPrimitives.ReadUInt16LittleEndian(image.Data.Span[^2..]);
        Assert.Equal(1630, first);
        Assert.Equal(1000, last);
    }

    [Fact]
    public async Task Synthesize_returns_count_images_for_the_label()
    {
        await using var w = await WorkerFixture.StartAsync(null, StepModel.Synthesis("synth"));
        var updates = await w.CollectAsync(new SynthesizeRequest { Model = "synth", Label = "PNEUMONIA", Count = 3, Sampler = new SamplerOptions { Steps = 2, Seed = 0 } });
        var images = updates.Where(u => u.Image is not null).Select(u => u.Image).ToList();
        Assert.Equal(3, images.Count);
        Assert.All(images, i => Assert.Equal(PixelType.Uint8, i.PixelType));
        Assert.Equal(191, images[0].Data[0]); // 0.5 in [-1, 1] is 191 of 255
    }

    [Fact]
    public async Task Inpaint_takes_a_mask_and_keeps_known_pixels()
    {
        await using var w = await WorkerFixture.StartAsync(null, StepModel.Restoration("ip", InferenceTask.Inpaint));
        var image = U16(8, 8, i => (ushort)(i * 100));
        var mask = U16(8, 8, i => (ushort)(i % 8 < 4 ? 1 : 0));
        var updates = await w.CollectAsync(new InpaintRequest { Model = "ip", Image = image, Mask = mask });
        var result = updates.Single(u => u.Image is not null).Image;
        for (var i = 0; i < 64; i++)
        {
            if (i % 8 >= 4) Assert.Equal(i * 100, BinaryPrimitives.ReadUInt16LittleEndian(result.Data.Span[(i * 2)..]));
        }
    }

    public static TheoryData<string, StatusCode, string> BadRequests => new()
    {
        { "unknown model", StatusCode.NotFound, "no model named 'nope'" },
        { "wrong task", StatusCode.InvalidArgument, "does synthesize, not denoise" },
        { "no pixels", StatusCode.InvalidArgument, "is 0x8; width and height must be 1..65535" },
        { "colour", StatusCode.InvalidArgument, "photometric_interpretation 'RGB'" },
        { "float into a stored-range model", StatusCode.InvalidArgument, "send stored integer values" },
        { "bits stored above the type", StatusCode.InvalidArgument, "bits_stored 17" },
        { "value above bits stored", StatusCode.InvalidArgument, "outside the 0..4095 of 12 bits stored" },
        { "short data", StatusCode.InvalidArgument, "data is 100 bytes; 8x8 UINT16 needs 128" },
        { "three channels", StatusCode.InvalidArgument, "has 3 channels" },
        { "no pixel type", StatusCode.InvalidArgument, "pixel type PIXEL_TYPE_UNSPECIFIED" },
        { "too many steps", StatusCode.InvalidArgument, "steps must be 1..200" },
        { "unknown sampler", StatusCode.InvalidArgument, "sampler 'euler' is not available" },
        { "missing image", StatusCode.InvalidArgument, "image is missing" },
        { "strength above 1", StatusCode.InvalidArgument, "strength must be within 0..1" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_denoise_requests_are_refused_with_a_clear_status(string problem, StatusCode expected, string message)
    {
        var storedRange = StepModel.Restoration("dn-stored", InferenceTask.Denoise, image: new Imaging.ModelImageSpec { WindowSize = 8, Intensity = Imaging.IntensityNormalization.OfStoredRange });
        await using var w = await WorkerFixture.StartAsync(null, StepModel.Restoration("dn", InferenceTask.Denoise), StepModel.Synthesis("synth"), storedRange);
        var request = new DenoiseRequest { Model = "dn", Image = U16(8, 8, i => (ushort)i) };
        switch (problem)
        {
            case "unknown model": request.Model = "nope"; break;
            case "wrong task": request.Model = "synth"; break;
            case "no pixels": request.Image = U16(0, 8, i => 0); break;
            case "colour": request.Image.PhotometricInterpretation = "RGB"; break;
            case "float into a stored-range model":
                request.Model = "dn-stored";
                request.Image = new Image { Width = 2, Height = 1, Channels = 1, PixelType = PixelType.Float32, Data = ByteString.CopyFrom(new byte[8]) };
                break;
            case "bits stored above the type": request.Image.BitsStored = 17; break;
            case "value above bits stored": request.Image = U16(8, 8, i => (ushort)(i * 100)); request.Image.BitsStored = 12; break;
            case "short data": request.Image.Data = ByteString.CopyFrom(new byte[100]); break;
            case "three channels": request.Image.Channels = 3; break;
            case "no pixel type": request.Image.PixelType = PixelType.Unspecified; break;
            case "too many steps": request.Sampler = new SamplerOptions { Steps = 5000 }; break;
            case "unknown sampler": request.Sampler = new SamplerOptions { Sampler = "euler" }; break;
            case "missing image": request.Image = null; break;
            case "strength above 1": request.Sampler = new SamplerOptions { Strength = 1.5f }; break;
        }
        var ex = await Assert.ThrowsAsync<RpcException>(() => w.CollectAsync(request));
        Assert.Equal(expected, ex.StatusCode);
        Assert.Contains(message, ex.Status.Detail);
    }

    [Theory]
    [InlineData("NOPE", 1u, "has no label 'NOPE'")]
    [InlineData("NORMAL", 0u, "count must be 1..64")]
    [InlineData("NORMAL", 65u, "count must be 1..64")]
    public async Task Bad_synthesis_requests_are_refused(string label, uint count, string message)
    {
        await using var w = await WorkerFixture.StartAsync(null, StepModel.Synthesis("synth"));
        var ex = await Assert.ThrowsAsync<RpcException>(() => w.CollectAsync(new SynthesizeRequest { Model = "synth", Label = label, Count = count }));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains(message, ex.Status.Detail);
    }

    [Fact]
    public async Task A_deadline_shorter_than_the_work_ends_the_call_and_frees_the_worker_at_once()
    {
        var model = StepModel.Restoration("dn", InferenceTask.Denoise);
        model.StepTime = TimeSpan.FromMilliseconds(50);
        await using var w = await WorkerFixture.StartAsync(null, model);
        var request = new DenoiseRequest { Model = "dn", Image = U16(8, 8, i => (ushort)i), Sampler = new SamplerOptions { Steps = 200 } };
        var sw = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<RpcException>(() => w.CollectAsync(request, new CallOptions(deadline: DateTime.UtcNow.AddMilliseconds(400))));
        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(3), $"the call took {sw.Elapsed}");
        await WaitUntil(() => model.Running == 0, TimeSpan.FromSeconds(2));
        Assert.InRange(model.StepsRun, 1, 20);
        // Free again: the next request starts right away.
        request.Sampler.Steps = 2;
        var next = await w.CollectAsync(request);
        Assert.Single(next, u => u.Image is not null);
    }

    [Fact]
    public async Task A_cancelled_stream_stops_sampling_within_one_step()
    {
        var model = StepModel.Restoration("dn", InferenceTask.Denoise);
        model.StepTime = TimeSpan.FromMilliseconds(40);
        await using var w = await WorkerFixture.StartAsync(null, model);
        using var cts = new CancellationTokenSource();
        using var call = w.Start(
            new DenoiseRequest { Model = "dn", Image = U16(8, 8, i => (ushort)i), Sampler = new SamplerOptions { Steps = 200 } });
        var seen = 0;
        var stepsAtCancel = -1;
        var ex = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await foreach (var u in call.ResponseStream.ReadAllAsync(cts.Token))
            {
                if (u.Progress is null || ++seen != 3) continue;
                stepsAtCancel = model.StepsRun;
                cts.Cancel();
            }
        });
        Assert.True(ex is RpcException { StatusCode: StatusCode.Cancelled } or OperationCanceledException, ex.ToString());
        await WaitUntil(() => model.Running == 0, TimeSpan.FromSeconds(2));
        // Once the cancellation reaches the worker, the step under way may finish; no further step starts.
        Assert.InRange(model.StepsWhenCancelled, stepsAtCancel, 199);
        Assert.InRange(model.StepsRun, model.StepsWhenCancelled, model.StepsWhenCancelled + 1);
        await Task.Delay(200);
        Assert.InRange(model.StepsRun, model.StepsWhenCancelled, model.StepsWhenCancelled + 1);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Concurrent_requests_with_the_same_settings_share_a_batch_only_when_batching_is_on(bool batching)
    {
        var model = StepModel.Restoration("dn", InferenceTask.Denoise);
        model.StepTime = TimeSpan.FromMilliseconds(20);
        var options = new SchedulerOptions { DynamicBatching = batching, MaxBatchSize = 8, MaxBatchDelay = TimeSpan.FromSeconds(1) };
        await using var w = await WorkerFixture.StartAsync(options, model);
        var requests = Enumerable.Range(0, 6).Select(k => w.CollectAsync(new DenoiseRequest { Model = "dn", Image = U16(8, 8, i => (ushort)(i * (k + 1))), Sampler = new SamplerOptions { Steps = 3 } })).ToList();
        var results = await Task.WhenAll(requests);
        // Every caller gets its own answer, whatever it was batched with: pixel 0 is the maximum of its own range.
        for (var k = 0; k < 6; k++)
            Assert.Equal(63 * (k + 1), BinaryPrimitives.ReadUInt16LittleEndian(results[k].Single(u => u.Image is not null).Image.Data.Span));
        if (batching) Assert.Contains(model.BatchSizes, b => b > 1);
        else Assert.All(model.BatchSizes, b => Assert.Equal(1, b));
        Assert.Equal(6, model.BatchSizes.Sum());
    }

    [Fact]
    public async Task Requests_with_different_settings_are_not_batched_together()
    {
        var model = StepModel.Restoration("dn", InferenceTask.Denoise);
        var options = new SchedulerOptions { MaxBatchDelay = TimeSpan.FromMilliseconds(200) };
        await using var w = await WorkerFixture.StartAsync(options, model);
        var a = w.CollectAsync(new DenoiseRequest { Model = "dn", Image = U16(8, 8, i => (ushort)i), Sampler = new SamplerOptions { Steps = 3 } });
        var b = w.CollectAsync(new DenoiseRequest { Model = "dn", Image = U16(8, 8, i => (ushort)i), Sampler = new SamplerOptions { Steps = 4 } });
        await Task.WhenAll(a, b);
        Assert.All(model.BatchSizes, s => Assert.Equal(1, s));
    }

    [Fact]
    public async Task A_full_queue_answers_resource_exhausted()
    {
        var model = StepModel.Restoration("dn", InferenceTask.Denoise);
        model.Gate.Reset(); // the first job stays running until the full queue has been seen
        await using var w = await WorkerFixture.StartAsync(new SchedulerOptions { MaxQueueLength = 1, DynamicBatching = false }, model);
        var request = new DenoiseRequest { Model = "dn", Image = U16(8, 8, i => (ushort)i), Sampler = new SamplerOptions { Steps = 3 } };
        var running = w.CollectAsync(request);
        await WaitUntil(() => model.Running == 1, TimeSpan.FromSeconds(5));
        var queued = w.CollectAsync(request);
        await WaitUntil(() => w.Scheduler.QueueLength == 1, TimeSpan.FromSeconds(5));
        var ex = await Assert.ThrowsAsync<RpcException>(() => w.CollectAsync(request));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        model.Gate.Set();
        await Task.WhenAll(running, queued);
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout) throw new TimeoutException($"condition not met within {timeout}");
            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task Models_run_on_threads_at_the_configured_nice_value_and_the_callers_keep_theirs()
    {
        var model = StepModel.Restoration("dn", InferenceTask.Denoise);
        await using var w = await WorkerFixture.StartAsync(new SchedulerOptions { Niceness = 7, DynamicBatching = false }, model);

        await w.CollectAsync(new DenoiseRequest { Model = "dn", Image = U16(8, 8, i => (ushort)i), Sampler = new SamplerOptions { Steps = 1 } });

        // A runner already started with nice (a niced CI job) keeps its own value where it is higher.
        Assert.Equal(Math.Max(7, NiceOf("/proc/self/stat")), model.LastNiceness);
        Assert.Equal(NiceOf("/proc/self/stat"), NiceOf("/proc/thread-self/stat"));
    }

    private static int NiceOf(string statFile)
    {
        var stat = File.ReadAllText(statFile);
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[16], System.Globalization.CultureInfo.InvariantCulture);
    }
}
