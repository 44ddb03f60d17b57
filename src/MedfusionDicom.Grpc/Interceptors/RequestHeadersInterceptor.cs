using Grpc.Core;
using Grpc.Core.Interceptors;

namespace MedfusionDicom.Grpc.Interceptors;

/// <summary>
/// Adds what every call of ours carries: an x-request-id (kept when the caller set one) and, when asked, gzip for
/// the request messages (Grpc.Net.Client's per-call <c>grpc-internal-encoding-request</c> header).
/// </summary>
public sealed class RequestHeadersInterceptor(bool compressRequests) : Interceptor
{
    /// <summary>Grpc.Net.Client reads this header to pick the request's compression and does not send it.</summary>
    public const string RequestEncodingHeader = "grpc-internal-encoding-request";

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, BlockingUnaryCallContinuation<TRequest, TResponse> continuation) =>
        continuation(request, WithHeaders(context));

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation) =>
        continuation(request, WithHeaders(context));

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncServerStreamingCallContinuation<TRequest, TResponse> continuation) =>
        continuation(request, WithHeaders(context));

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(
        ClientInterceptorContext<TRequest, TResponse> context, AsyncClientStreamingCallContinuation<TRequest, TResponse> continuation) =>
        continuation(WithHeaders(context));

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(
        ClientInterceptorContext<TRequest, TResponse> context, AsyncDuplexStreamingCallContinuation<TRequest, TResponse> continuation) =>
        continuation(WithHeaders(context));

    private ClientInterceptorContext<TRequest, TResponse> WithHeaders<TRequest, TResponse>(ClientInterceptorContext<TRequest, TResponse> context)
        where TRequest : class
        where TResponse : class
    {
        // A copy: the caller's Metadata may be shared between calls, and each call needs its own id.
        var headers = new Metadata();
        foreach (var entry in context.Options.Headers ?? [])
        {
            headers.Add(entry);
        }

        if (headers.Get(RequestIds.HeaderName) is null)
        {
            headers.Add(RequestIds.HeaderName, RequestIds.NewId());
        }

        if (compressRequests && headers.Get(RequestEncodingHeader) is null)
        {
            headers.Add(RequestEncodingHeader, "gzip");
        }

        return new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, context.Options.WithHeaders(headers));
    }
}
