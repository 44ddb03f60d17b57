using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Gateway.DicomWeb;

/// <summary>The DICOMweb service's events: ids 1420 to 1439.</summary>
internal static partial class DicomWebLog
{
    [LoggerMessage(EventId = 1420, Level = LogLevel.Information, Message = "DICOMweb listening at {Url}")]
    public static partial void Listening(ILogger logger, string url);

    [LoggerMessage(EventId = 1421, Level = LogLevel.Warning, Message = "STOW-RS refused instance {SopInstanceUid}: {Reason}")]
    public static partial void InstanceRefused(ILogger logger, string sopInstanceUid, string reason);

    [LoggerMessage(EventId = 1422, Level = LogLevel.Warning, Message = "DICOMweb listens at {Url}, beyond loopback, without authentication")]
    public static partial void OpenWithoutAuthentication(ILogger logger, string url);

    [LoggerMessage(EventId = 1423, Level = LogLevel.Warning, Message = "DICOMweb refused {Method} {Path} from {Remote}: {Reason}")]
    public static partial void Unauthenticated(ILogger logger, string method, string path, string remote, string reason);
}
