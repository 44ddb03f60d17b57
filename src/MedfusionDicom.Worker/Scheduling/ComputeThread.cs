using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace MedfusionDicom.Worker.Scheduling;

/// <summary>
/// A thread of its own that runs model passes one after another, at a chosen CPU priority (Linux nice). libtorch's
/// intra-op threads (OpenMP) are created by the thread that first runs a parallel operation and inherit its nice value,
/// so every thread that samples for this scheduler runs at that priority, while the rest of the process (a gateway's
/// DIMSE associations, gRPC) keeps the normal one.
/// </summary>
internal sealed partial class ComputeThread : IDisposable
{
    private const int PrioProcess = 0;
    private readonly BlockingCollection<Action> _work = new();

    public ComputeThread(string name, int niceness)
    {
        var thread = new Thread(() =>
        {
            if (niceness != 0 && OperatingSystem.IsLinux()) SetNiceness(niceness);
            foreach (var work in _work.GetConsumingEnumerable()) work();
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
    }

    public Task<T> RunAsync<T>(Func<T> work)
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                completion.SetResult(work());
            }
            catch (Exception ex)
            {
                completion.SetException(ex);
            }
        });
        return completion.Task;
    }

    /// <summary>
    /// Sets the calling thread's nice value (setpriority on its thread id). Lowering one's own priority needs no
    /// privilege; a thread already nicer than asked (the whole process was started with nice) stays as it is, since
    /// raising priority back would need one. Never throws: this runs at the start of a thread, and a priority that
    /// cannot be set is not worth the process.
    /// </summary>
    private static void SetNiceness(int niceness)
    {
        var tid = Gettid();
        if (Getpriority(PrioProcess, tid) >= niceness) return;
        _ = Setpriority(PrioProcess, tid, niceness);
    }

    [LibraryImport("libc", EntryPoint = "getpriority")]
    private static partial int Getpriority(int which, int who);

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int Setpriority(int which, int who, int priority);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int Gettid();

    public void Dispose() => _work.CompleteAdding();
}
