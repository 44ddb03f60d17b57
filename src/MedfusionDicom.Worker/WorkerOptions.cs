namespace MedfusionDicom.Worker;

/// <summary>The worker's settings (configuration section "Worker").</summary>
public sealed class WorkerOptions
{
    public const string SectionName = "Worker";

    /// <summary>Address to listen on; loopback by default so that a worker is never exposed by accident.</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";
    public int Port { get; set; } = 50051;
    /// <summary>Folder with one sub-folder per model.</summary>
    public string ModelsDirectory { get; set; } = "models";
    /// <summary>PEM or PFX certificate for TLS (ALPN h2); cleartext HTTP/2 when empty.</summary>
    public string? TlsCertificatePath { get; set; }
    /// <summary>The private key of a PEM certificate, when it is in its own file.</summary>
    public string? TlsKeyPath { get; set; }
    public bool WarmUp { get; set; } = true;
    /// <summary>Where the models run: cpu, cuda, cuda:N or auto (the first CUDA device when there is one); ListModels reports it.</summary>
    public string Device { get; set; } = "auto";
    /// <summary>
    /// Puts exception messages of internal errors into the gRPC status sent to callers (MEDFUSION_Worker__EnableDetailedErrors=true).
    /// Off by default: they can name files and internals of the worker; the log always has them, with the stack trace.
    /// </summary>
    public bool EnableDetailedErrors { get; set; }
    /// <summary>
    /// Batching is off by default: on a CPU, libtorch ran one batch of 8 slower than 8 single images
    /// (bench/RESULTS.md, "Inference worker"). Turn it on (Worker:Scheduler:DynamicBatching) on a GPU.
    /// </summary>
    public Scheduling.SchedulerOptions Scheduler { get; set; } = new() { DynamicBatching = false };
    /// <summary>
    /// When a restoration image runs whole and when it is tiled (Worker:Tiling:MemoryBudgetMegabytes, Overlap,
    /// MaxBatchSize): images of any size are accepted.
    /// </summary>
    public Imaging.TilingOptions Tiling { get; set; } = new();
    /// <summary>
    /// The process that started this worker as its child (the gateway, MEDFUSION_Worker__ParentProcessId): the worker
    /// stops when that process is gone, even after a SIGKILL that ran none of its shutdown code. 0: no parent watched.
    /// </summary>
    public int ParentProcessId { get; set; }
}
