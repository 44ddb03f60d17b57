using System.Diagnostics;
using MedfusionDicom.Gateway.Jobs;
using MedfusionDicom.Gateway.Storage;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Gateway.Export;

/// <summary>
/// Sends derived instances to the destinations of their routes. Each destination has its own loop and its own queue
/// in the index, so one that is down never holds up another: its instances wait with backoff and are dead after
/// MaxAttempts (an operator can re-drive them). A DIMSE destination gets many instances per association, transcoded
/// when it does not accept the stored transfer syntax.
/// </summary>
public sealed class ExportRunner(GatewayIndex index, GatewayOptions options, PipelineSignals signals, ILoggerFactory loggerFactory)
{
    private readonly ILogger _logger = loggerFactory.CreateLogger<ExportRunner>();
    private readonly string _owner = $"{options.NodeName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    public Task RunAsync(CancellationToken ct) => Task.WhenAll(options.Destinations.Select(d => LoopAsync(d, ct)));

    private async Task LoopAsync(DestinationOptions destination, CancellationToken ct)
    {
        await using var sender = DestinationSenders.Create(destination, Path.Combine(options.DataDirectory, ".cache", "deidentified"), loggerFactory);
        var leaseMs = (long)(options.Jobs.LeaseSeconds * 1000);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var batch = await index.LeaseExportsAsync(destination.Name, _owner, sender.BatchSize, Now(), leaseMs, ct).ConfigureAwait(false);
                if (batch.Count == 0)
                {
                    await signals.Exports(destination.Name).WaitAsync(TimeSpan.FromMilliseconds(500), ct).ConfigureAwait(false);
                    continue;
                }

                await SendAsync(sender, destination, batch, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                GatewayLog.LoopFailed(_logger, $"export to {destination.Name}", ex);
                await Task.Delay(1000, ct).ConfigureAwait(false);
            }
        }
    }

    private async Task SendAsync(IDestinationSender sender, DestinationOptions destination, IReadOnlyList<ExportRecord> batch, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var attempt = batch.Max(e => e.Attempts);
        IReadOnlyList<ExportOutcome> outcomes;
        try
        {
            outcomes = await sender.SendAsync(batch, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            var reason = $"{ex.GetType().Name}: {ex.Message}";
            await index.FailExportsAsync(batch.Select(e => e.Id), reason, options.Jobs.MaxAttempts, RetryPolicy.NextAttemptAtMs(options.Jobs, attempt, Now()), Now(), ct).ConfigureAwait(false);
            GatewayLog.ExportFailed(_logger, batch.Count, destination.Name, attempt, reason);
            return;
        }

        var sent = outcomes.Where(o => o.Succeeded).Select(o => o.ExportId).ToList();
        var failed = outcomes.Where(o => !o.Succeeded).ToList();
        await index.CompleteExportsAsync(sent, Now(), ct).ConfigureAwait(false);
        if (sent.Count > 0) GatewayLog.Exported(_logger, sent.Count, destination.Name, watch.Elapsed.TotalMilliseconds);
        if (failed.Count > 0)
        {
            var reason = failed[0].Error ?? "refused";
            await index.FailExportsAsync(failed.Select(o => o.ExportId), reason, options.Jobs.MaxAttempts, RetryPolicy.NextAttemptAtMs(options.Jobs, attempt, Now()), Now(), ct).ConfigureAwait(false);
            GatewayLog.ExportFailed(_logger, failed.Count, destination.Name, attempt, reason);
        }
    }

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
}
