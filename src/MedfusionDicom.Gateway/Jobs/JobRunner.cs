using System.Diagnostics;
using MedfusionDicom.Gateway.Inference;
using MedfusionDicom.Gateway.Results;
using MedfusionDicom.Gateway.Storage;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Gateway.Jobs;

/// <summary>
/// Takes jobs from the index and runs them, several at once (as many as the workers take together). A job is leased:
/// the lease is renewed while it runs, and a job whose lease runs out (its process died) is taken again by whoever
/// asks next. A failure is retried with backoff until MaxAttempts, then the job is dead; input that cannot be
/// processed (colour on a grayscale model, unreadable pixels, a request the worker refuses) fails at once.
/// </summary>
public sealed class JobRunner(GatewayIndex index, DerivedInstanceWriter writer, GatewayOptions options, PipelineSignals signals, ILogger<JobRunner> logger)
{
    private readonly string _owner = $"{options.NodeName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);

    public async Task RunAsync(int concurrency, CancellationToken ct) =>
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => LoopAsync(ct))).ConfigureAwait(false);

    private async Task LoopAsync(CancellationToken ct)
    {
        var leaseMs = (long)(options.Jobs.LeaseSeconds * 1000);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var job = await index.LeaseJobAsync(_owner, Now(), leaseMs, ct).ConfigureAwait(false);
                if (job is null)
                {
                    await signals.Jobs.WaitAsync(PollInterval, ct).ConfigureAwait(false);
                    continue;
                }

                signals.Jobs.Set(); // there may be more: another loop looks at once

                await RunJobAsync(job, leaseMs, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                GatewayLog.LoopFailed(logger, "job", ex);
                await Task.Delay(1000, ct).ConfigureAwait(false);
            }
        }
    }

    private async Task RunJobAsync(JobRecord job, long leaseMs, CancellationToken ct)
    {
        var route = options.Routes.FirstOrDefault(r => string.Equals(r.Name, job.Route, StringComparison.OrdinalIgnoreCase));
        var source = await index.GetInstanceAsync(job.SopInstanceUid, ct).ConfigureAwait(false);
        if (route is null || source is null)
        {
            await FailAsync(job, route is null ? $"route '{job.Route}' is no longer configured" : "the source instance is no longer in the index", permanent: true, ct).ConfigureAwait(false);
            return;
        }

        using var running = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var heartbeat = HeartbeatAsync(job.Id, leaseMs, running);
        var watch = Stopwatch.StartNew();
        try
        {
            var (result, worker) = await writer.WriteAsync(source, route, running.Token).ConfigureAwait(false);
            if (await index.CompleteJobAsync(job.Id, _owner, result, route.Destinations, Now(), ct).ConfigureAwait(false))
            {
                foreach (var destination in route.Destinations) signals.Exports(destination).Set();
                GatewayLog.JobDone(logger, job.Id, job.SopInstanceUid, route.Name, worker, job.Attempts, watch.Elapsed.TotalMilliseconds, result.SopInstanceUid);
            }
        }
        catch (UnprocessableInstanceException ex)
        {
            await FailAsync(job, ex.Message, permanent: true, ct).ConfigureAwait(false);
        }
        catch (InferenceFailedException ex)
        {
            await FailAsync(job, ex.Message, permanent: !ex.Retryable, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The gateway is stopping: the lease runs out (or is given back at the next start) and the job runs again.
            throw;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or OperationCanceledException)
        {
            await FailAsync(job, $"{ex.GetType().Name}: {ex.Message}", permanent: false, ct).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            GatewayLog.JobCrashed(logger, job.Id, job.SopInstanceUid, job.Route, ex);
            await FailAsync(job, $"internal error ({ex.GetType().Name}); the gateway's log has the details", permanent: false, ct).ConfigureAwait(false);
        }
        finally
        {
            await running.CancelAsync().ConfigureAwait(false);
            await heartbeat.ConfigureAwait(false);
        }
    }

    private async Task FailAsync(JobRecord job, string reason, bool permanent, CancellationToken ct)
    {
        var now = Now();
        await index.FailJobAsync(job.Id, _owner, reason, permanent, options.Jobs.MaxAttempts, RetryPolicy.NextAttemptAtMs(options.Jobs, job.Attempts, now), now, ct).ConfigureAwait(false);
        var outcome = permanent ? "failed" : job.Attempts >= options.Jobs.MaxAttempts ? "dead" : "will retry";
        GatewayLog.JobFailed(logger, job.Id, job.SopInstanceUid, job.Route, job.Attempts, outcome, reason);
    }

    /// <summary>Renews the lease at a third of its length; a lease lost to another node cancels the work.</summary>
    private async Task HeartbeatAsync(long jobId, long leaseMs, CancellationTokenSource running)
    {
        try
        {
            while (!running.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(leaseMs / 3.0), running.Token).ConfigureAwait(false);
                if (!await index.RenewLeaseAsync(jobId, _owner, Now() + leaseMs, running.Token).ConfigureAwait(false))
                {
                    await running.CancelAsync().ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
}
