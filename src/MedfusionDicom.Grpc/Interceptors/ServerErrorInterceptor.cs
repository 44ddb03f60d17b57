using Grpc.AspNetCore.Server;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MedfusionDicom.Grpc.Interceptors;

/// <summary>
/// The last word on a handler's exceptions. An <see cref="RpcException"/> is the handler's own answer and passes
/// unchanged; anything else is a bug of ours: it is logged with its stack trace and the caller gets INTERNAL naming
/// the request id, never the exception's text (paths, native messages), unless
/// <see cref="GrpcServiceOptions.EnableDetailedErrors"/> is on. Grpc.AspNetCore alone would answer UNKNOWN.
/// </summary>
public sealed class ServerErrorInterceptor(ILogger<ServerErrorInterceptor> logger, IOptions<GrpcServiceOptions> options) : Interceptor
{
    private readonly bool _detailedErrors = options.Value.EnableDetailedErrors ?? false;

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsOurFault(ex, context))
        {
            throw Internal(ex, context);
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(requestStream, context).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsOurFault(ex, context))
        {
            throw Internal(ex, context);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsOurFault(ex, context))
        {
            throw Internal(ex, context);
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsOurFault(ex, context))
        {
            throw Internal(ex, context);
        }
    }

    /// <summary>A cancellation the caller caused (it left, or its deadline passed) is answered by Grpc.AspNetCore as such.</summary>
    private static bool IsOurFault(Exception ex, ServerCallContext context) =>
        ex is not RpcException && !(ex is OperationCanceledException && context.CancellationToken.IsCancellationRequested);

    private RpcException Internal(Exception ex, ServerCallContext context)
    {
        var requestId = RequestIds.Of(context);
        GrpcLog.HandlerFailed(logger, context.Method, requestId, ex);
        return new RpcException(new Status(StatusCode.Internal, _detailedErrors
            ? $"{ex.GetType().Name}: {ex.Message}"
            : $"internal error; the server's log has the details (request {requestId})"));
    }
}
