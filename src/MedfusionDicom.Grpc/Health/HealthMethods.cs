using Grpc.Health.V1;

namespace MedfusionDicom.Grpc.Health;

/// <summary>The descriptors of grpc.health.v1.Health, for servers and clients alike.</summary>
public static class HealthMethods
{
    public const string ServiceName = "grpc.health.v1.Health";

    public static readonly Method<HealthCheckRequest, HealthCheckResponse> Check = new(
        MethodType.Unary, ServiceName, "Check", Marshallers.Create(HealthCheckRequest.Parser), Marshallers.Create(HealthCheckResponse.Parser));

    public static readonly Method<HealthCheckRequest, HealthCheckResponse> Watch = new(
        MethodType.ServerStreaming, ServiceName, "Watch", Marshallers.Create(HealthCheckRequest.Parser), Marshallers.Create(HealthCheckResponse.Parser));
}
