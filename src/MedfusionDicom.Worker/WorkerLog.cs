using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Worker;

internal static partial class WorkerLog
{
    [LoggerMessage(1, LogLevel.Information, "Loaded model {Model} ({Task}) from {Directory} on {Device}")]
    public static partial void ModelLoaded(ILogger logger, string model, string task, string directory, string device);

    [LoggerMessage(2, LogLevel.Warning, "Skipped {Directory}: no loader recognises it as a model folder")]
    public static partial void ModelFolderSkipped(ILogger logger, string directory);

    [LoggerMessage(3, LogLevel.Information, "Request {RequestId} {Task} model={Model} steps={Steps} count={Count} batch={BatchSize} queueWaitMs={QueueWaitMs:F1} computeMs={ComputeMs:F1} outcome={Outcome}")]
    public static partial void JobFinished(ILogger logger, string requestId, string task, string model, int steps, int count, int batchSize, double queueWaitMs, double computeMs, string outcome);

    [LoggerMessage(4, LogLevel.Warning, "Request {RequestId} rejected: {Reason}")]
    public static partial void RequestRejected(ILogger logger, string requestId, string reason);

    [LoggerMessage(5, LogLevel.Error, "Batch of {BatchSize} on {Model} failed")]
    public static partial void BatchFailed(ILogger logger, string model, int batchSize, Exception exception);

    [LoggerMessage(6, LogLevel.Information, "Worker serving {ModelCount} model(s) on {Addresses}")]
    public static partial void Serving(ILogger logger, int modelCount, string addresses);

    [LoggerMessage(7, LogLevel.Information, "Warmed up {Model} in {ElapsedMs:F0} ms")]
    public static partial void WarmedUp(ILogger logger, string model, double elapsedMs);

    [LoggerMessage(8, LogLevel.Error, "Request {RequestId} on {Model} failed with an internal error; answered INTERNAL")]
    public static partial void RequestFailed(ILogger logger, string requestId, string model, Exception exception);

    [LoggerMessage(9, LogLevel.Warning, "Parent process {ParentProcessId} is gone; the worker stops")]
    public static partial void ParentGone(ILogger logger, int parentProcessId);
}
