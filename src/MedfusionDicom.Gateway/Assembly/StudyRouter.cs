using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.IO;
using MedfusionDicom.Gateway.Routing;
using MedfusionDicom.Gateway.Storage;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Gateway.Assembly;

/// <summary>
/// Waits until a study is stable (nothing of it arrived for StableSeconds, as the index records) and routes its
/// series: each series is matched once against every route, on its first instance's attributes and AE titles, and
/// every matching route gets a job per instance, in the transaction that marks the instances routed. The state is in
/// the index, so a restart carries on; an instance that arrives after its study was routed is routed on its own.
/// </summary>
public sealed class StudyRouter(GatewayIndex index, GatewayOptions options, PipelineSignals signals, ILogger<StudyRouter> logger)
{
    private readonly IReadOnlyList<RouteMatcher> _routes = options.Routes.Select(r => new RouteMatcher(r)).ToList();

    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await RouteStableAsync(ct).ConfigureAwait(false);
                await Task.Delay(await UntilNextPassAsync(ct).ConfigureAwait(false), ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                GatewayLog.LoopFailed(logger, "routing", ex);
                await Task.Delay(1000, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Until the next study waiting to be routed becomes stable, so that it is routed when its StableSeconds are up
    /// and not up to a poll interval later; at most a second (new arrivals, other nodes).
    /// </summary>
    private async Task<TimeSpan> UntilNextPassAsync(CancellationToken ct)
    {
        var stableMs = (long)(options.Assembly.StableSeconds * 1000);
        var idle = TimeSpan.FromMilliseconds(Math.Clamp(stableMs / 4, 100, 1000));
        var oldest = await index.OldestUnroutedReceiptAsync(ct).ConfigureAwait(false);
        if (oldest is null) return idle;
        var wait = TimeSpan.FromMilliseconds(oldest.Value + stableMs - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 1);
        return wait < TimeSpan.FromMilliseconds(10) ? TimeSpan.FromMilliseconds(10) : wait > idle ? idle : wait;
    }

    /// <summary>One pass: routes every series of every stable study that has unrouted instances.</summary>
    public async Task RouteStableAsync(CancellationToken ct)
    {
        var quietSince = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - (long)(options.Assembly.StableSeconds * 1000);
        var routable = await index.ListRoutableAsync(quietSince, ct).ConfigureAwait(false);
        foreach (var series in routable.GroupBy(i => i.SeriesInstanceUid))
        {
            var first = series.First();
            var header = (await DicomFile.OpenAsync(first.Path, new DicomReaderOptions { StopBeforeTag = DicomTag.PixelData }, ct).ConfigureAwait(false)).Dataset;
            var facts = new SeriesFacts(header, first.CallingAeTitle, first.CalledAeTitle);
            var matched = _routes.Where(r => r.Matches(facts)).Select(r => r.Route.Name).ToList();
            var uids = series.Select(i => i.SopInstanceUid).ToList();
            var claimed = await index.RouteAsync(uids, uids.SelectMany(uid => matched.Select(route => (uid, route))).ToList(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), ct).ConfigureAwait(false);
            if (claimed > 0 && matched.Count > 0) signals.Jobs.Set();
            if (claimed > 0) GatewayLog.Routed(logger, first.StudyInstanceUid, series.Key, claimed, matched.Count == 0 ? "no route" : string.Join(", ", matched));
        }
    }
}
