using System.Diagnostics;
using System.Threading.Channels;
using MedfusionDicom.Worker.Models;

namespace MedfusionDicom.Worker.Scheduling;

/// <summary>One request in the worker's queue: its input, its progress as it runs, and its outcome.</summary>
public sealed class InferenceJob
{
    private readonly TaskCompletionSource<float[][]> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Channel<(int Step, int Total)> _progress = Channel.CreateBounded<(int, int)>(
        new BoundedChannelOptions(16) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    internal InferenceJob(string requestId, IInferenceModel model, InferenceInput input, SamplerSettings settings, CancellationToken cancellationToken)
    {
        RequestId = requestId;
        Model = model;
        Input = input;
        Settings = settings;
        CancellationToken = cancellationToken;
    }

    public string RequestId { get; }
    public IInferenceModel Model { get; }
    public InferenceInput Input { get; }
    public SamplerSettings Settings { get; }
    public CancellationToken CancellationToken { get; }

    /// <summary>Jobs that may share a forward pass: same model and same sampler settings.</summary>
    internal (IInferenceModel, SamplerSettings) BatchKey => (Model, Settings);

    internal long EnqueuedAt { get; } = Stopwatch.GetTimestamp();
    internal long StartedAt { get; set; }
    internal int BatchSize { get; set; }

    /// <summary>The output images; cancelled when the request's token fires, faulted when the model fails.</summary>
    public Task<float[][]> Completion => _completion.Task;

    /// <summary>(step, total) after each sampling step; completes when the job ends. A slow reader skips old updates.</summary>
    public ChannelReader<(int Step, int Total)> Progress => _progress.Reader;

    internal void ReportProgress(int step, int total) => _progress.Writer.TryWrite((step, total));

    internal void Succeed(float[][] images)
    {
        _progress.Writer.TryComplete();
        _completion.TrySetResult(images);
    }

    internal void Cancel()
    {
        _progress.Writer.TryComplete();
        _completion.TrySetCanceled(CancellationToken.IsCancellationRequested ? CancellationToken : new CancellationToken(true));
    }

    internal void Fail(Exception exception)
    {
        _progress.Writer.TryComplete();
        _completion.TrySetException(exception);
    }
}

/// <summary>The queue is at its configured length: the caller should retry later.</summary>
public sealed class QueueFullException(int length) : Exception($"the worker's queue is full ({length} requests waiting); retry later")
{
    public int Length { get; } = length;
}
