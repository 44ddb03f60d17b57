using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;

namespace MedfusionDicom.Grpc.Client;

/// <summary>The request body of a call: the delegate writes framed messages while HttpClient streams them out.</summary>
internal sealed class GrpcRequestContent : HttpContent
{
    private static readonly MediaTypeHeaderValue GrpcContentType = new(GrpcProtocol.ContentType);

    private readonly Func<PipeWriter, CancellationToken, Task> writeBody;

    public GrpcRequestContent(Func<PipeWriter, CancellationToken, Task> writeBody)
    {
        this.writeBody = writeBody;
        Headers.ContentType = GrpcContentType;
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        await writeBody(writer, cancellationToken).ConfigureAwait(false);
        await writer.CompleteAsync().ConfigureAwait(false);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
