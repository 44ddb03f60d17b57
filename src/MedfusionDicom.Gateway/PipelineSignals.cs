using System.Collections.Concurrent;

namespace MedfusionDicom.Gateway;

/// <summary>
/// Wakes a stage's polling loop as soon as another stage in this process has made work for it, so that a study does
/// not wait out poll intervals between routing, inference and export. Polling stays the fallback: other nodes on a
/// shared index, and work left by an earlier run, are found within one interval.
/// </summary>
public sealed class PipelineSignals
{
    private readonly ConcurrentDictionary<string, Wakeup> _exports = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Jobs were queued.</summary>
    public Wakeup Jobs { get; } = new();

    /// <summary>Exports to <paramref name="destination"/> were queued.</summary>
    public Wakeup Exports(string destination) => _exports.GetOrAdd(destination, _ => new Wakeup());
}

/// <summary>An auto-reset event for async loops: <see cref="Set"/> wakes one waiter, or the next one to wait.</summary>
public sealed class Wakeup
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Set()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already set: the next waiter wakes at once either way.
        }
    }

    /// <summary>Returns when set or after <paramref name="timeout"/>, whichever comes first.</summary>
    public Task WaitAsync(TimeSpan timeout, CancellationToken ct) => _signal.WaitAsync(timeout, ct);
}
