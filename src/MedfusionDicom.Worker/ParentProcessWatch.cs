using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MedfusionDicom.Worker;

/// <summary>
/// Stops a worker that runs as another process's child once that process is gone. A parent killed with SIGKILL cannot
/// stop its child, and an orphaned worker would hold its memory and its port until someone found it: when the parent
/// dies the kernel hands the child to another parent, which this sees within a second.
/// </summary>
public sealed partial class ParentProcessWatch(IOptions<WorkerOptions> options, IHostApplicationLifetime lifetime, ILogger<ParentProcessWatch> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var parent = options.Value.ParentProcessId;
        if (parent <= 0 || !OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (GetParentProcessId() != parent)
                {
                    WorkerLog.ParentGone(logger, parent);
                    lifetime.StopApplication();
                    return;
                }
                await Task.Delay(Interval, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LibraryImport("libc", EntryPoint = "getppid")]
    private static partial int GetParentProcessId();
}
