using MedfusionDicom.Grpc.Tests.Echo;

namespace MedfusionDicom.Grpc.Tests.Infrastructure;

/// <summary>Descriptors of medfusion.test.v1.EchoService (tests/interop/protos).</summary>
public static class EchoMethods
{
    public const string ServiceName = "medfusion.test.v1.EchoService";

    private static readonly Marshaller<EchoRequest> Request = Marshallers.Create(EchoRequest.Parser);
    private static readonly Marshaller<EchoResponse> Response = Marshallers.Create(EchoResponse.Parser);

    public static readonly Method<EchoRequest, EchoResponse> Echo = new(MethodType.Unary, ServiceName, "Echo", Request, Response);

    public static readonly Method<EchoRequest, EchoResponse> EchoStream = new(MethodType.ServerStreaming, ServiceName, "EchoStream", Request, Response);

    public static readonly Method<EchoRequest, EchoResponse> Collect = new(MethodType.ClientStreaming, ServiceName, "Collect", Request, Response);

    public static readonly Method<EchoRequest, EchoResponse> Chat = new(MethodType.DuplexStreaming, ServiceName, "Chat", Request, Response);

    /// <summary>Served by the grpc-js peer only: our test server leaves it out, which makes it the unknown method there.</summary>
    public static readonly Method<ObserveRequest, Observation> Observe = new(
        MethodType.Unary, ServiceName, "Observe", Marshallers.Create(ObserveRequest.Parser), Marshallers.Create(Observation.Parser));

    public static readonly Method<HealthUpdate, HealthUpdated> SetHealth = new(
        MethodType.Unary, ServiceName, "SetHealth", Marshallers.Create(HealthUpdate.Parser), Marshallers.Create(HealthUpdated.Parser));

    /// <summary>A method no peer serves.</summary>
    public static readonly Method<EchoRequest, EchoResponse> Missing = new(MethodType.Unary, ServiceName, "Missing", Request, Response);
}
