namespace MedfusionDicom.Cli.Commands;

/// <summary>
/// Progress reported on the reporting thread, at once and in order (System.Progress posts to the thread pool, so a
/// progress bar could draw its steps out of order or after the verb's last line).
/// </summary>
internal sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
