using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Gateway;

/// <summary>Event ids 1400–1499.</summary>
internal static partial class GatewayLog
{
    [LoggerMessage(EventId = 1400, Level = LogLevel.Information, Message = "Gateway {What}: {Value}")]
    public static partial void Setting(ILogger logger, string what, string value);

    [LoggerMessage(EventId = 1401, Level = LogLevel.Debug, Message = "Stored {SopInstanceUid} of study {StudyInstanceUid} series {SeriesInstanceUid} from {CallingAeTitle}")]
    public static partial void Stored(ILogger logger, string sopInstanceUid, string studyInstanceUid, string seriesInstanceUid, string callingAeTitle);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Warning, Message = "Storage below {MinimumFreeMegabytes} MB free in {DataDirectory}: instances are refused with A700")]
    public static partial void StorageFull(ILogger logger, long minimumFreeMegabytes, string dataDirectory);

    [LoggerMessage(EventId = 1403, Level = LogLevel.Information, Message = "Routed study {StudyInstanceUid} series {SeriesInstanceUid}: {Instances} instance(s) to {Routes}")]
    public static partial void Routed(ILogger logger, string studyInstanceUid, string seriesInstanceUid, int instances, string routes);

    [LoggerMessage(EventId = 1404, Level = LogLevel.Information, Message = "Job {JobId} done: {SopInstanceUid} by route {Route} on worker {Worker}, attempt {Attempt}, {ElapsedMs:F0} ms; result {ResultSopInstanceUid}")]
    public static partial void JobDone(ILogger logger, long jobId, string sopInstanceUid, string route, string worker, int attempt, double elapsedMs, string resultSopInstanceUid);

    [LoggerMessage(EventId = 1405, Level = LogLevel.Warning, Message = "Job {JobId} ({SopInstanceUid}, route {Route}) attempt {Attempt} failed ({Outcome}): {Reason}")]
    public static partial void JobFailed(ILogger logger, long jobId, string sopInstanceUid, string route, int attempt, string outcome, string reason);

    [LoggerMessage(EventId = 1406, Level = LogLevel.Information, Message = "Exported {Count} instance(s) to {Destination} in {ElapsedMs:F0} ms")]
    public static partial void Exported(ILogger logger, int count, string destination, double elapsedMs);

    [LoggerMessage(EventId = 1407, Level = LogLevel.Warning, Message = "Export of {Count} instance(s) to {Destination} failed (attempt {Attempt}): {Reason}")]
    public static partial void ExportFailed(ILogger logger, int count, string destination, int attempt, string reason);

    [LoggerMessage(EventId = 1408, Level = LogLevel.Information, Message = "Worker {Worker} at {Address} serves {Models}")]
    public static partial void WorkerReady(ILogger logger, string worker, string address, string models);

    [LoggerMessage(EventId = 1409, Level = LogLevel.Warning, Message = "Worker {Worker} is {Status}")]
    public static partial void WorkerHealth(ILogger logger, string worker, string status);

    [LoggerMessage(EventId = 1410, Level = LogLevel.Error, Message = "Job {JobId} ({SopInstanceUid}, route {Route}) failed with an internal error")]
    public static partial void JobCrashed(ILogger logger, long jobId, string sopInstanceUid, string route, Exception exception);

    [LoggerMessage(EventId = 1411, Level = LogLevel.Error, Message = "{Loop} loop failed; it starts again in a moment")]
    public static partial void LoopFailed(ILogger logger, string loop, Exception exception);

    [LoggerMessage(EventId = 1412, Level = LogLevel.Information, Message = "Gave back {Count} lease(s) a previous run left behind")]
    public static partial void LeasesReleased(ILogger logger, int count);

    [LoggerMessage(EventId = 1413, Level = LogLevel.Warning, Message = "Indexed {Count} instance(s) again that the store journal held at start (their index rows were lost, as in a power cut)")]
    public static partial void ReindexedFromJournal(ILogger logger, int count);

    [LoggerMessage(EventId = 1414, Level = LogLevel.Information, Message = "Worker {Worker}: started its process {ProcessId} serving at {Address}")]
    public static partial void WorkerProcessStarted(ILogger logger, string worker, int processId, string address);

    [LoggerMessage(EventId = 1415, Level = LogLevel.Warning, Message = "Worker {Worker}: its process {ProcessId} exited with {ExitCode}; it is started again")]
    public static partial void WorkerProcessExited(ILogger logger, string worker, int processId, int exitCode);

    [LoggerMessage(EventId = 1416, Level = LogLevel.Error, Message = "Worker {Worker}: its process could not be started again")]
    public static partial void WorkerProcessFailed(ILogger logger, string worker, Exception exception);

    [LoggerMessage(EventId = 1417, Message = "Worker {Worker}: {Line}")]
    public static partial void WorkerProcessOutput(ILogger logger, LogLevel level, string worker, string line);

    [LoggerMessage(EventId = 1418, Level = LogLevel.Information, Message = "Cohort job {Id}: {Patients} patients from {Model}, started")]
    public static partial void CohortStarted(ILogger logger, string id, string model, int patients);

    [LoggerMessage(EventId = 1419, Level = LogLevel.Information, Message = "Cohort job {Id} done: {Images} images in {Studies} studies stored; destinations: {Destinations}")]
    public static partial void CohortDone(ILogger logger, string id, int images, int studies, string destinations);

    [LoggerMessage(EventId = 1430, Level = LogLevel.Warning, Message = "Cohort job {Id} failed: {Reason}")]
    public static partial void CohortFailed(ILogger logger, string id, string reason, Exception exception);

    [LoggerMessage(EventId = 1431, Level = LogLevel.Information, Message = "Cohort job {Id}: `medfusion cohort` exited with {ExitCode}: {Summary}")]
    public static partial void CohortProcessEnded(ILogger logger, string id, int exitCode, string summary);
}
