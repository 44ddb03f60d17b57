using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Grpc.Hosting;

/// <summary>Event ids 1310–1319.</summary>
internal static partial class HostingLog
{
    [LoggerMessage(EventId = 1310, Level = LogLevel.Information, Message = "gRPC server listening on {Address}")]
    public static partial void Listening(ILogger logger, string address);
}
