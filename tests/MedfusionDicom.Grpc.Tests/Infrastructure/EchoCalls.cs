using Google.Protobuf;
using Grpc.Core;
using MedfusionDicom.Grpc.Tests.Echo;

namespace MedfusionDicom.Grpc.Tests.Infrastructure;

/// <summary>Calls the generated client cannot make: methods that no peer serves.</summary>
public static class EchoCalls
{
    public const string ServiceName = "medfusion.test.v1.EchoService";

    /// <summary>Not in echo.proto, so no server has it.</summary>
    public static readonly Method<EchoRequest, EchoResponse> Missing = new(
        MethodType.Unary, ServiceName, "Missing", Marshallers.Create(r => r.ToByteArray(), EchoRequest.Parser.ParseFrom), Marshallers.Create(r => r.ToByteArray(), EchoResponse.Parser.ParseFrom));

    public static EchoService.EchoServiceClient Client(CallInvoker invoker) => new(invoker);
}
