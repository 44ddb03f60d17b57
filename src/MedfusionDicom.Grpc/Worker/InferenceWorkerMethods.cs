using Medfusion.V1;

namespace MedfusionDicom.Grpc.Worker;

/// <summary>
/// The descriptors of medfusion.v1.InferenceWorker (worker.proto): the worker binds handlers to them with
/// <see cref="Server.ServiceDefinition.Builder"/>, the gateway calls them through <see cref="Client.GrpcChannel"/>.
/// </summary>
public static class InferenceWorkerMethods
{
    public const string ServiceName = "medfusion.v1.InferenceWorker";

    private static readonly Marshaller<JobUpdate> JobUpdateMarshaller = Marshallers.Create(JobUpdate.Parser);

    public static readonly Method<ListModelsRequest, ListModelsResponse> ListModels = new(
        MethodType.Unary, ServiceName, "ListModels", Marshallers.Create(ListModelsRequest.Parser), Marshallers.Create(ListModelsResponse.Parser));

    public static readonly Method<SynthesizeRequest, JobUpdate> Synthesize = Job("Synthesize", SynthesizeRequest.Parser);

    public static readonly Method<DenoiseRequest, JobUpdate> Denoise = Job("Denoise", DenoiseRequest.Parser);

    public static readonly Method<SuperResolveRequest, JobUpdate> SuperResolve = Job("SuperResolve", SuperResolveRequest.Parser);

    public static readonly Method<InpaintRequest, JobUpdate> Inpaint = Job("Inpaint", InpaintRequest.Parser);

    private static Method<TRequest, JobUpdate> Job<TRequest>(string name, Google.Protobuf.MessageParser<TRequest> parser)
        where TRequest : Google.Protobuf.IMessage<TRequest> =>
        new(MethodType.ServerStreaming, ServiceName, name, Marshallers.Create(parser), JobUpdateMarshaller);
}
