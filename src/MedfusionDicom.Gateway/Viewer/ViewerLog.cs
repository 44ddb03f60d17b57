using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Gateway.Viewer;

/// <summary>The viewer's events: ids 1440 to 1449.</summary>
internal static partial class ViewerLog
{
    [LoggerMessage(EventId = 1440, Level = LogLevel.Information, Message = "Viewer: OHIF {Version} at {Path} from {Directory}")]
    public static partial void Serving(ILogger logger, string version, string path, string directory);

    [LoggerMessage(EventId = 1441, Level = LogLevel.Warning, Message = "Viewer not served: {Reason}")]
    public static partial void Unavailable(ILogger logger, string reason);
}
