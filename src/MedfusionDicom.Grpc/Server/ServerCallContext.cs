using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;

namespace MedfusionDicom.Grpc.Server;

/// <summary>
/// One call on the server: what the client sent besides the messages, the token that stops the work (client
/// cancellation, deadline, shutdown), and the headers and trailers the handler adds to the reply.
/// </summary>
public sealed class ServerCallContext
{
    private readonly HttpContext httpContext;
    private readonly GrpcServerOptions options;
    private readonly string? requestEncoding;
    private readonly bool compressResponses;

    // Serializes writes against completion: a deadline may end the response while a handler is still writing.
    private readonly SemaphoreSlim responseLock = new(1, 1);
    private bool completed;

    // A written but unflushed message does not start the response in Kestrel; it still rules out Trailers-Only.
    private bool messageWritten;

    internal ServerCallContext(
        HttpContext httpContext,
        GrpcServerOptions options,
        string method,
        DateTime deadline,
        Metadata requestHeaders,
        string? requestEncoding,
        bool compressResponses,
        CancellationToken cancellationToken)
    {
        this.httpContext = httpContext;
        this.options = options;
        this.requestEncoding = requestEncoding;
        this.compressResponses = compressResponses;
        Method = method;
        Deadline = deadline;
        RequestHeaders = requestHeaders;
        CancellationToken = cancellationToken;
        var connection = httpContext.Connection;
        Peer = connection.RemoteIpAddress is { } address
            ? $"{(address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "ipv6:[" + address + "]" : "ipv4:" + address)}:{connection.RemotePort}"
            : "unknown";
    }

    /// <summary>"/package.Service/Method".</summary>
    public string Method { get; }

    /// <summary>The client's address, e.g. "ipv4:127.0.0.1:51234".</summary>
    public string Peer { get; }

    /// <summary>When the client stops waiting (UTC); <see cref="DateTime.MaxValue"/> without grpc-timeout.</summary>
    public DateTime Deadline { get; }

    public Metadata RequestHeaders { get; }

    /// <summary>Cancelled when the client cancels (RST_STREAM), the deadline passes, or the server stops.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>Sent with the first message (or with the status when there is none). Add before the first write.</summary>
    public Metadata ResponseHeaders { get; } = new();

    /// <summary>Sent after the last message, beside grpc-status.</summary>
    public Metadata ResponseTrailers { get; } = new();

    /// <summary>The HTTP request under the call, for what gRPC does not model (client certificates, connection id).</summary>
    public HttpContext HttpContext => httpContext;

    /// <summary>Sends <see cref="ResponseHeaders"/> now, before any message.</summary>
    public async Task WriteResponseHeadersAsync()
    {
        await responseLock.WaitAsync(CancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfCompleted();
            PrepareResponseHeaders();
            await httpContext.Response.StartAsync(CancellationToken).ConfigureAwait(false);
        }
        finally
        {
            responseLock.Release();
        }
    }

    internal async IAsyncEnumerable<T> ReadAllMessagesAsync<T>(Marshaller<T> marshaller)
    {
        while (true)
        {
            var (found, message) = await MessageFraming.ReadMessageAsync(
                httpContext.Request.BodyReader, marshaller, requestEncoding, options.MaxReceiveMessageSize, CancellationToken).ConfigureAwait(false);
            if (!found)
            {
                yield break;
            }

            yield return message!;
        }
    }

    /// <summary>The request of a unary or server-streaming call: exactly one message, then the end of the stream.</summary>
    internal async Task<T> ReadSingleMessageAsync<T>(Marshaller<T> marshaller)
    {
        var reader = httpContext.Request.BodyReader;
        var (found, message) = await MessageFraming.ReadMessageAsync(
            reader, marshaller, requestEncoding, options.MaxReceiveMessageSize, CancellationToken).ConfigureAwait(false);
        if (!found)
        {
            throw new RpcException(StatusCode.Internal, "The request ended without a message.");
        }

        var (extra, _) = await MessageFraming.ReadMessageAsync(
            reader, marshaller, requestEncoding, options.MaxReceiveMessageSize, CancellationToken).ConfigureAwait(false);
        if (extra)
        {
            throw new RpcException(StatusCode.Internal, "The request holds more than one message for a single-request method.");
        }

        return message!;
    }

    internal async Task WriteMessageAsync<T>(T message, Marshaller<T> marshaller, bool flush)
    {
        await responseLock.WaitAsync(CancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfCompleted();
            PrepareResponseHeaders();
            var output = httpContext.Response.BodyWriter;
            MessageFraming.WriteMessage(output, message, marshaller, compressResponses, options.MaxSendMessageSize);
            messageWritten = true;
            if (flush)
            {
                await output.FlushAsync(CancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            responseLock.Release();
        }
    }

    /// <summary>
    /// Ends the call with a status, once: in the trailers after messages, or as a Trailers-Only response (status in
    /// the headers) when nothing was sent. <paramref name="endStreamNow"/> sends it before the handler returns, which a
    /// passed deadline needs because the client must not wait for a handler that is slow to stop.
    /// </summary>
    internal async Task CompleteAsync(Status status, Metadata trailers, bool endStreamNow)
    {
        await responseLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (completed)
            {
                return;
            }

            completed = true;
            var response = httpContext.Response;
            if (!response.HasStarted && !messageWritten)
            {
                PrepareResponseHeaders();
                GrpcServerResponses.SetStatusHeaders(response.Headers, status, trailers);
            }
            else if (response.SupportsTrailers())
            {
                GrpcServerResponses.SetStatusHeaders(new TrailerHeaders(response), status, trailers);
            }

            if (endStreamNow)
            {
                await response.CompleteAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            responseLock.Release();
        }
    }

    private void ThrowIfCompleted()
    {
        if (completed)
        {
            throw new RpcException(StatusCode.Cancelled, "The call has already completed.");
        }
    }

    private void PrepareResponseHeaders()
    {
        var response = httpContext.Response;
        if (response.HasStarted)
        {
            return;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = GrpcProtocol.ContentType;
        response.Headers[GrpcProtocol.AcceptEncodingHeader] = GrpcProtocol.SupportedEncodings;
        if (compressResponses)
        {
            response.Headers[GrpcProtocol.EncodingHeader] = GrpcProtocol.GzipEncoding;
        }

        foreach (var (name, value) in MetadataHeaders.ToHeaders(ResponseHeaders))
        {
            response.Headers.Append(name, value);
        }
    }

    /// <summary>Adapts the trailer API to the header-dictionary shape the status writer uses.</summary>
    private sealed class TrailerHeaders(HttpResponse response) : IStatusHeaderSink
    {
        public void Append(string name, string value) => response.AppendTrailer(name, value);
    }
}
