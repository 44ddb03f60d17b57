using Grpc.Core;

namespace MedfusionDicom.Grpc;

/// <summary>
/// The x-request-id header that names one call in the logs of every process it passes (gateway, worker). A caller
/// that sends none gets one made up by the first process that logs the call.
/// </summary>
public static class RequestIds
{
    public const string HeaderName = "x-request-id";

    public static string NewId() => Guid.NewGuid().ToString("N")[..12];

    /// <summary>The call's request id, or a new one when the caller sent none.</summary>
    public static string Of(ServerCallContext context) => context.RequestHeaders.GetValue(HeaderName) ?? NewId();
}
