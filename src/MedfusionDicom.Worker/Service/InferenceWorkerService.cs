using Grpc.Core;
using Medfusion.V1;
using MedfusionDicom.Grpc;
using MedfusionDicom.Imaging;
using MedfusionDicom.Worker.Models;
using MedfusionDicom.Worker.Scheduling;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedfusionDicom.Worker.Service;

/// <summary>
/// medfusion.v1.InferenceWorker: validates each request against the model it names, queues it, streams progress while
/// it samples, and sends the images last. Bad requests are answered before anything is queued.
/// </summary>
public sealed class InferenceWorkerService : InferenceWorker.InferenceWorkerBase
{
    /// <summary>Images one Synthesize call may ask for; more is more likely a mistake than a plan on a CPU worker.</summary>
    public const int MaxSynthesizeCount = 64;

    private readonly ModelCatalog _catalog;
    private readonly InferenceScheduler _scheduler;
    private readonly ILogger _logger;

    public InferenceWorkerService(ModelCatalog catalog, InferenceScheduler scheduler, ILogger<InferenceWorkerService>? logger = null)
    {
        _catalog = catalog;
        _scheduler = scheduler;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Whether INTERNAL statuses carry the exception's message (<see cref="WorkerOptions.EnableDetailedErrors"/>).</summary>
    public bool EnableDetailedErrors { get; init; }

    public override Task<ListModelsResponse> ListModels(ListModelsRequest request, ServerCallContext context)
    {
        var response = new ListModelsResponse();
        foreach (var m in _catalog.Models.OrderBy(m => m.Descriptor.Name, StringComparer.Ordinal))
        {
            var d = m.Descriptor;
            var info = new ModelInfo { Name = d.Name, Task = d.TaskName, Width = (uint)d.Width, Height = (uint)d.Height, Device = d.Device };
            info.Labels.AddRange(d.Labels);
            response.Models.Add(info);
        }
        return Task.FromResult(response);
    }

    public override Task Synthesize(SynthesizeRequest request, IServerStreamWriter<JobUpdate> responseStream, ServerCallContext context) =>
        RunAsync(request.Model, InferenceTask.Synthesize, request.Sampler, responseStream, context, m => Synthesis(m, request));

    public override Task Denoise(DenoiseRequest request, IServerStreamWriter<JobUpdate> responseStream, ServerCallContext context) =>
        RunAsync(request.Model, InferenceTask.Denoise, request.Sampler, responseStream, context, m => Restoration(m, request.Image, null));

    public override Task SuperResolve(SuperResolveRequest request, IServerStreamWriter<JobUpdate> responseStream, ServerCallContext context) =>
        RunAsync(request.Model, InferenceTask.SuperResolve, request.Sampler, responseStream, context, m => SuperResolution(m, request));

    public override Task Inpaint(InpaintRequest request, IServerStreamWriter<JobUpdate> responseStream, ServerCallContext context) =>
        RunAsync(request.Model, InferenceTask.Inpaint, request.Sampler, responseStream, context, m => Restoration(m, request.Image, request.Mask));

    /// <summary>What a request asks of its model, in model space, and how to turn the results back into API images.</summary>
    private sealed record Prepared(InferenceInput Input, Func<float[], Image> ToImage);

    private static Prepared Synthesis(ModelDescriptor model, SynthesizeRequest r)
    {
        if (r.Count == 0 || r.Count > MaxSynthesizeCount) throw Invalid($"count must be 1..{MaxSynthesizeCount}, got {r.Count}");
        if (!model.Labels.Contains(r.Label, StringComparer.Ordinal))
            throw Invalid($"model '{model.Name}' has no label '{r.Label}'; its labels are: {string.Join(", ", model.Labels)}");
        var intensity = model.ImageSpec.Intensity.Mode == IntensityMode.Fixed ? model.ImageSpec.Intensity : IntensityNormalization.Range(0, 255);
        return new Prepared(new InferenceInput(r.Sampler?.Seed ?? 0, (int)r.Count, r.Label),
            px => ImageConversion.FromSynthesis(new Image2D(model.Width, model.Height, px), intensity));
    }

    private static Prepared Restoration(ModelDescriptor model, Image? image, Image? mask)
    {
        var spec = model.ImageSpec;
        var input = ImageConversion.ToModel(image, "image", spec);
        int width = input.Image.Width, height = input.Image.Height;
        var unknown = model.Task == InferenceTask.Inpaint ? ImageConversion.ToMask(mask, width, height) : null;
        var window = input.Window;
        return new Prepared(new InferenceInput(0, 1, null, input.Image, unknown),
            px => ImageConversion.FromModel(new Image2D(width * spec.Scale, height * spec.Scale, px), window, unknown, image!));
    }

    private static Prepared SuperResolution(ModelDescriptor model, SuperResolveRequest r)
    {
        var factor = model.ImageSpec.Scale;
        if (r.Scale != 0 && r.Scale != factor) throw Invalid($"model '{model.Name}' scales by {factor}, not {r.Scale}");
        return Restoration(model, r.Image, null);
    }

    private async Task RunAsync(string modelName, InferenceTask task, SamplerOptions? sampler, IServerStreamWriter<JobUpdate> writer,
        ServerCallContext context, Func<ModelDescriptor, Prepared> prepare)
    {
        var requestId = RequestIds.Of(context);
        InferenceJob job;
        Prepared prepared;
        try
        {
            var model = Resolve(modelName, task);
            prepared = prepare(model.Descriptor);
            var settings = Settings(model.Descriptor, sampler);
            var input = prepared.Input with { Seed = sampler?.Seed ?? 0 };
            job = _scheduler.Submit(model, input, settings, context.CancellationToken, requestId);
        }
        catch (InvalidImageException ex)
        {
            throw Reject(requestId, StatusCode.InvalidArgument, ex.Message);
        }
        catch (RpcException ex)
        {
            throw Reject(requestId, ex.StatusCode, ex.Status.Detail);
        }
        catch (QueueFullException ex)
        {
            throw Reject(requestId, StatusCode.ResourceExhausted, ex.Message);
        }

        await foreach (var (step, total) in job.Progress.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
            await writer.WriteAsync(new JobUpdate { Progress = new Progress { Step = (uint)step, TotalSteps = (uint)total } }).ConfigureAwait(false);
        float[][] images;
        try
        {
            images = await job.Completion.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            context.CancellationToken.ThrowIfCancellationRequested();
            throw new RpcException(new Status(StatusCode.Unavailable, "the worker is shutting down"));
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            // A model failing is our bug, not the caller's: the details (paths, native messages) go to the log only.
            WorkerLog.RequestFailed(_logger, requestId, modelName, ex);
            throw new RpcException(new Status(StatusCode.Internal, EnableDetailedErrors
                ? $"model '{modelName}' failed: {ex.GetType().Name}: {ex.Message}"
                : $"model '{modelName}' failed with an internal error; the worker's log has the details (request {requestId})"));
        }
        foreach (var image in images) await writer.WriteAsync(new JobUpdate { Image = prepared.ToImage(image) }).ConfigureAwait(false);
    }

    private IInferenceModel Resolve(string name, InferenceTask task)
    {
        if (string.IsNullOrEmpty(name)) throw Invalid("model is empty; ListModels names the models this worker serves");
        if (!_catalog.TryGet(name, out var model))
            throw new RpcException(new Status(StatusCode.NotFound, $"no model named '{name}'; this worker serves: {string.Join(", ", _catalog.Models.Select(m => m.Descriptor.Name).Order())}"));
        if (model.Descriptor.Task != task)
            throw Invalid($"model '{name}' does {model.Descriptor.TaskName}, not {task.ApiName()}");
        return model;
    }

    private static SamplerSettings Settings(ModelDescriptor model, SamplerOptions? options)
    {
        var steps = options is null || options.Steps == 0 ? model.DefaultSteps : (int)options.Steps;
        if (steps > model.MaxSteps) throw Invalid($"steps must be 1..{model.MaxSteps} for model '{model.Name}', got {steps}");
        var sampler = string.IsNullOrEmpty(options?.Sampler) ? model.Samplers[0] : options.Sampler;
        if (!model.Samplers.Contains(sampler, StringComparer.Ordinal))
            throw Invalid($"sampler '{sampler}' is not available for model '{model.Name}'; choose one of: {string.Join(", ", model.Samplers)}");
        var eta = options?.Eta ?? 0;
        if (!float.IsFinite(eta) || eta < 0 || eta > 1) throw Invalid($"eta must be within 0..1, got {eta}");
        var guidance = options?.GuidanceScale ?? 0;
        if (!float.IsFinite(guidance) || guidance < 0 || guidance > 50) throw Invalid($"guidance_scale must be within 0..50, got {guidance}");
        var strength = options?.Strength ?? 0;
        if (!float.IsFinite(strength) || strength < 0 || strength > 1) throw Invalid($"strength must be within 0..1 (0: the model's default), got {strength}");
        return new SamplerSettings(steps, eta, guidance, sampler, strength);
    }

    private static RpcException Invalid(string detail) => new(new Status(StatusCode.InvalidArgument, detail));

    private RpcException Reject(string requestId, StatusCode code, string detail)
    {
        WorkerLog.RequestRejected(_logger, requestId, $"{code}: {detail}");
        return new RpcException(new Status(code, detail));
    }
}
