using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Grpc;

/// <summary>Event ids 1300–1309.</summary>
internal static partial class GrpcLog
{
    [LoggerMessage(EventId = 1300, Level = LogLevel.Error, Message = "gRPC handler of {Method} failed (request {RequestId}); answered INTERNAL")]
    public static partial void HandlerFailed(ILogger logger, string method, string requestId, Exception exception);
}
