using System.Diagnostics;
using MedfusionDicom.Worker.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedfusionDicom.Worker.Scheduling;

public sealed class SchedulerOptions
{
    /// <summary>Batches that may run at once. On a CPU, one batch already uses every core.</summary>
    public int Concurrency { get; set; } = 1;
    /// <summary>Requests that may wait; one more is refused (RESOURCE_EXHAUSTED) rather than queued without bound.</summary>
    public int MaxQueueLength { get; set; } = 64;
    /// <summary>Combine requests with the same model and settings into one forward pass.</summary>
    public bool DynamicBatching { get; set; } = true;
    public int MaxBatchSize { get; set; } = 8;
    /// <summary>How long the first request of a batch waits for companions; bounds the latency batching adds.</summary>
    public TimeSpan MaxBatchDelay { get; set; } = TimeSpan.FromMilliseconds(15);
    /// <summary>
    /// CPU priority of the threads that run the models (Linux nice, 0 to 19; Worker:Scheduler:Niceness). A worker that
    /// shares its machine with ingest runs at a higher value so that receiving never waits on sampling; the gateway's
    /// embedded worker uses 10 (bench/RESULTS.md, "Gateway: ingest while the embedded worker is busy").
    /// </summary>
    public int Niceness { get; set; }
}

/// <summary>
/// Bounded concurrency with a queue, and dynamic batching: requests for the same model and sampler settings that
/// arrive within <see cref="SchedulerOptions.MaxBatchDelay"/> of each other run as one batch. A batch stops as soon as
/// every request in it is cancelled (within one sampling step); a request cancelled while others in its batch go on
/// is answered at once and its result dropped.
/// </summary>
public sealed class InferenceScheduler : IAsyncDisposable
{
    private readonly SchedulerOptions _options;
    private readonly ILogger _logger;
    private readonly List<InferenceJob> _pending = new();
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task[] _workers;
    private readonly ComputeThread[] _compute;
    private TaskCompletionSource _arrival = NewSignal();
    private long _requestCounter;

    public InferenceScheduler(SchedulerOptions options, ILogger? logger = null)
    {
        if (options.Concurrency < 1 || options.MaxBatchSize < 1 || options.MaxQueueLength < 1)
            throw new ArgumentException("scheduler concurrency, batch size and queue length must be at least 1");
        if (options.Niceness is < 0 or > 19) throw new ArgumentException($"scheduler niceness must be 0 to 19, got {options.Niceness}");
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _compute = Enumerable.Range(0, options.Concurrency).Select(i => new ComputeThread($"inference-{i}", options.Niceness)).ToArray();
        _workers = _compute.Select(compute => Task.Run(() => WorkLoopAsync(compute))).ToArray();
    }

    /// <summary>Requests waiting for a free slot.</summary>
    public int QueueLength
    {
        get
        {
            lock (_gate) return _pending.Count;
        }
    }

    public InferenceJob Submit(IInferenceModel model, InferenceInput input, SamplerSettings settings, CancellationToken cancellationToken, string? requestId = null)
    {
        var job = new InferenceJob(requestId ?? $"r{Interlocked.Increment(ref _requestCounter)}", model, input, settings, cancellationToken);
        TaskCompletionSource signal;
        lock (_gate)
        {
            if (_pending.Count >= _options.MaxQueueLength) throw new QueueFullException(_pending.Count);
            _pending.Add(job);
            signal = _arrival;
            _arrival = NewSignal();
        }
        // A request cancelled while it waits leaves the queue at once.
        cancellationToken.Register(() => Withdraw(job));
        signal.TrySetResult();
        return job;
    }

    private void Withdraw(InferenceJob job)
    {
        bool removed;
        lock (_gate) removed = _pending.Remove(job);
        if (removed)
        {
            job.Cancel();
            Log(job, "cancelled in queue");
        }
    }

    private async Task WorkLoopAsync(ComputeThread compute)
    {
        var stop = _stopping.Token;
        while (!stop.IsCancellationRequested)
        {
            InferenceJob? first;
            Task arrival;
            lock (_gate)
            {
                first = _pending.Count > 0 ? _pending[0] : null;
                if (first is not null) _pending.RemoveAt(0);
                arrival = _arrival.Task;
            }
            if (first is null)
            {
                try
                {
                    await arrival.WaitAsync(stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            var batch = new List<InferenceJob> { first };
            if (_options.DynamicBatching && _options.MaxBatchSize > 1) await GatherAsync(batch, stop).ConfigureAwait(false);
            await RunBatchAsync(batch, compute).ConfigureAwait(false);
        }
    }

    private async Task GatherAsync(List<InferenceJob> batch, CancellationToken stop)
    {
        var key = batch[0].BatchKey;
        var deadline = Stopwatch.GetTimestamp() + (long)(_options.MaxBatchDelay.TotalSeconds * Stopwatch.Frequency);
        while (batch.Count < _options.MaxBatchSize)
        {
            Task arrival;
            lock (_gate)
            {
                for (var i = 0; i < _pending.Count && batch.Count < _options.MaxBatchSize;)
                {
                    if (_pending[i].BatchKey.Equals(key))
                    {
                        batch.Add(_pending[i]);
                        _pending.RemoveAt(i);
                    }
                    else i++;
                }
                arrival = _arrival.Task;
            }
            var remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
            if (batch.Count >= _options.MaxBatchSize || Stopwatch.GetTimestamp() >= deadline) return;
            await Task.WhenAny(arrival, Task.Delay(remaining, stop)).ConfigureAwait(false);
            if (stop.IsCancellationRequested) return;
        }
    }

    private async Task RunBatchAsync(List<InferenceJob> batch, ComputeThread compute)
    {
        var live = batch.Where(j => !j.CancellationToken.IsCancellationRequested).ToList();
        foreach (var j in batch.Except(live)) j.Cancel();
        if (live.Count == 0) return;
        var model = live[0].Model;
        var started = Stopwatch.GetTimestamp();
        foreach (var j in live)
        {
            j.StartedAt = started;
            j.BatchSize = live.Count;
        }
        using var batchCts = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        var alive = live.Count;
        var registrations = live.Select(j => j.CancellationToken.Register(() =>
        {
            j.Cancel(); // answer this request now; the batch goes on for the others
            if (Interlocked.Decrement(ref alive) == 0) batchCts.Cancel();
        })).ToList();
        try
        {
            var outputs = await compute.RunAsync(
                () => model.Run(live.Select(j => j.Input).ToList(), live[0].Settings, (step, total) =>
                {
                    foreach (var j in live) j.ReportProgress(step, total);
                }, batchCts.Token)).ConfigureAwait(false);
            if (outputs.Count != live.Count) throw new InvalidOperationException($"model {model.Descriptor.Name} returned {outputs.Count} results for {live.Count} inputs");
            for (var i = 0; i < live.Count; i++)
            {
                if (live[i].CancellationToken.IsCancellationRequested) live[i].Cancel();
                else live[i].Succeed(outputs[i]);
                Log(live[i], live[i].Completion.IsCanceled ? "cancelled" : "ok");
            }
        }
        catch (OperationCanceledException)
        {
            foreach (var j in live)
            {
                j.Cancel();
                Log(j, "cancelled");
            }
        }
        catch (Exception ex)
        {
            WorkerLog.BatchFailed(_logger, model.Descriptor.Name, live.Count, ex);
            foreach (var j in live)
            {
                j.Fail(ex);
                Log(j, "failed");
            }
        }
        finally
        {
            foreach (var r in registrations) r.Dispose();
        }
    }

    private void Log(InferenceJob job, string outcome)
    {
        var now = Stopwatch.GetTimestamp();
        var started = job.StartedAt == 0 ? now : job.StartedAt;
        WorkerLog.JobFinished(_logger, job.RequestId, job.Model.Descriptor.TaskName, job.Model.Descriptor.Name, job.Settings.Steps,
            job.Input.Count, job.BatchSize, Stopwatch.GetElapsedTime(job.EnqueuedAt, started).TotalMilliseconds,
            job.StartedAt == 0 ? 0 : Stopwatch.GetElapsedTime(started, now).TotalMilliseconds, outcome);
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        try
        {
            await Task.WhenAll(_workers).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        foreach (var compute in _compute) compute.Dispose();
        lock (_gate)
        {
            foreach (var j in _pending) j.Cancel();
            _pending.Clear();
        }
        _stopping.Dispose();
    }
}
