namespace MedfusionDicom.Gateway.Jobs;

/// <summary>When a failed attempt is tried again: exponential backoff from InitialRetrySeconds up to MaxRetrySeconds, with ±50 % jitter so that retries of one outage spread out.</summary>
public static class RetryPolicy
{
    public static long NextAttemptAtMs(JobOptions options, int attempts, long nowMs)
    {
        var delay = Math.Min(options.MaxRetrySeconds, options.InitialRetrySeconds * Math.Pow(2, Math.Max(0, attempts - 1)));
        return nowMs + (long)(delay * (0.5 + Random.Shared.NextDouble()) * 1000);
    }
}
