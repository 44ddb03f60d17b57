using System.Net.Sockets;
using System.Security.Authentication;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace MedfusionDicom.Grpc.Interceptors;

/// <summary>
/// Makes a broken connection UNAVAILABLE, as grpc-go and grpc-js report it. Grpc.Net.Client answers INTERNAL when a
/// keepalive ping goes unanswered, the connection drops mid-call or the TLS handshake fails; a caller (the gateway's
/// worker pool) must be able to tell "that server is gone, try another" from "that server has a bug". Statuses the
/// server sent are never changed: only those that carry the client's own transport exception.
/// </summary>
public sealed class TransportErrorInterceptor : Interceptor
{
    public override TResponse BlockingUnaryCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, BlockingUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        try
        {
            return continuation(request, context);
        }
        catch (RpcException ex) when (IsTransportFailure(ex.Status))
        {
            throw Unavailable(ex);
        }
    }

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        var call = continuation(request, context);
        return new AsyncUnaryCall<TResponse>(Mapped(call.ResponseAsync), Mapped(call.ResponseHeadersAsync), () => Mapped(call.GetStatus()), call.GetTrailers, call.Dispose);
    }

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncServerStreamingCallContinuation<TRequest, TResponse> continuation)
    {
        var call = continuation(request, context);
        return new AsyncServerStreamingCall<TResponse>(
            new MappedReader<TResponse>(call.ResponseStream), Mapped(call.ResponseHeadersAsync), () => Mapped(call.GetStatus()), call.GetTrailers, call.Dispose);
    }

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(
        ClientInterceptorContext<TRequest, TResponse> context, AsyncClientStreamingCallContinuation<TRequest, TResponse> continuation)
    {
        var call = continuation(context);
        return new AsyncClientStreamingCall<TRequest, TResponse>(
            new MappedWriter<TRequest>(call.RequestStream), Mapped(call.ResponseAsync), Mapped(call.ResponseHeadersAsync),
            () => Mapped(call.GetStatus()), call.GetTrailers, call.Dispose);
    }

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(
        ClientInterceptorContext<TRequest, TResponse> context, AsyncDuplexStreamingCallContinuation<TRequest, TResponse> continuation)
    {
        var call = continuation(context);
        return new AsyncDuplexStreamingCall<TRequest, TResponse>(
            new MappedWriter<TRequest>(call.RequestStream), new MappedReader<TResponse>(call.ResponseStream), Mapped(call.ResponseHeadersAsync),
            () => Mapped(call.GetStatus()), call.GetTrailers, call.Dispose);
    }

    private static async Task<T> Mapped<T>(Task<T> task)
    {
        try
        {
            return await task.ConfigureAwait(false);
        }
        catch (RpcException ex) when (IsTransportFailure(ex.Status))
        {
            throw Unavailable(ex);
        }
    }

    private static async Task Mapped(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (RpcException ex) when (IsTransportFailure(ex.Status))
        {
            throw Unavailable(ex);
        }
    }

    private static Status Mapped(Status status) =>
        IsTransportFailure(status) ? new Status(StatusCode.Unavailable, status.Detail, status.DebugException) : status;

    private static RpcException Unavailable(RpcException ex) => new(Mapped(ex.Status), ex.Trailers, ex.Message);

    private static bool IsTransportFailure(Status status)
    {
        if (status.StatusCode != StatusCode.Internal)
        {
            return false;
        }

        for (var ex = status.DebugException; ex is not null; ex = ex.InnerException)
        {
            // HttpProtocolException (an unanswered ping, GOAWAY, RST_STREAM) is an IOException.
            if (ex is HttpRequestException or IOException or SocketException or AuthenticationException)
            {
                return true;
            }
        }

        return false;
    }

    private sealed class MappedReader<T>(IAsyncStreamReader<T> inner) : IAsyncStreamReader<T>
    {
        public T Current => inner.Current;

        public Task<bool> MoveNext(CancellationToken cancellationToken) => Mapped(inner.MoveNext(cancellationToken));
    }

    private sealed class MappedWriter<T>(IClientStreamWriter<T> inner) : IClientStreamWriter<T>
    {
        public WriteOptions? WriteOptions
        {
            get => inner.WriteOptions;
            set => inner.WriteOptions = value;
        }

        public Task WriteAsync(T message) => Mapped(inner.WriteAsync(message));

        public Task WriteAsync(T message, CancellationToken cancellationToken) => Mapped(inner.WriteAsync(message, cancellationToken));

        public Task CompleteAsync() => Mapped(inner.CompleteAsync());
    }
}
