using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedfusionDicom.Grpc.Server;

/// <summary>
/// The request delegate that serves gRPC calls: validates the HTTP/2 request, routes it to a handler and ends it
/// with a status. Usable in any Kestrel host (<c>app.Run(dispatcher.HandleAsync)</c>); <see cref="GrpcServer"/> is one.
/// </summary>
public sealed class GrpcRequestDispatcher
{
    private readonly Dictionary<string, Func<ServerCallContext, Task>> handlers = new(StringComparer.Ordinal);
    private readonly GrpcServerOptions options;
    private readonly ILogger logger;

    public GrpcRequestDispatcher(IEnumerable<ServiceDefinition> services, GrpcServerOptions options, ILogger<GrpcRequestDispatcher>? logger = null)
    {
        this.options = options;
        this.logger = logger ?? NullLogger<GrpcRequestDispatcher>.Instance;
        foreach (var service in services)
        {
            foreach (var (path, handler) in service.Handlers)
            {
                if (!handlers.TryAdd(path, handler))
                {
                    throw new ArgumentException($"Two services register {path}.", nameof(services));
                }
            }
        }
    }

    public async Task HandleAsync(HttpContext httpContext)
    {
        var request = httpContext.Request;
        var response = httpContext.Response;
        if (!HttpProtocol.IsHttp2(request.Protocol))
        {
            // gRPC needs HTTP/2 trailers; an HTTP/1.x client is told to upgrade rather than given a broken reply.
            Refuse(request.Path, $"protocol {request.Protocol}");
            response.StatusCode = StatusCodes.Status426UpgradeRequired;
            response.Headers.Upgrade = "h2";
            return;
        }

        if (!HttpMethods.IsPost(request.Method))
        {
            Refuse(request.Path, $"method {request.Method}");
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = "POST";
            return;
        }

        if (!GrpcProtocol.IsGrpcContentType(request.ContentType))
        {
            Refuse(request.Path, $"content-type {request.ContentType}");
            await GrpcServerResponses.WriteTrailersOnlyAsync(
                response,
                new Status(StatusCode.Internal, $"Content-Type '{request.ContentType}' is not supported."),
                StatusCodes.Status415UnsupportedMediaType).ConfigureAwait(false);
            return;
        }

        var path = request.Path.Value ?? "";
        if (!handlers.TryGetValue(path, out var handler))
        {
            Refuse(path, "unknown method");
            await GrpcServerResponses.WriteTrailersOnlyAsync(response, new Status(StatusCode.Unimplemented, $"Method not found: {path}")).ConfigureAwait(false);
            return;
        }

        string? requestEncoding = request.Headers[GrpcProtocol.EncodingHeader];
        if (requestEncoding is not null && requestEncoding != GrpcProtocol.IdentityEncoding && requestEncoding != GrpcProtocol.GzipEncoding)
        {
            Refuse(path, $"grpc-encoding {requestEncoding}");
            await GrpcServerResponses.WriteTrailersOnlyAsync(
                response, new Status(StatusCode.Unimplemented, $"Unsupported grpc-encoding '{requestEncoding}'.")).ConfigureAwait(false);
            return;
        }

        string? timeoutHeader = request.Headers[GrpcProtocol.TimeoutHeader];
        TimeSpan? timeout = null;
        if (timeoutHeader is not null)
        {
            if (!GrpcProtocol.TryParseTimeout(timeoutHeader, out var parsed))
            {
                Refuse(path, $"grpc-timeout {timeoutHeader}");
                await GrpcServerResponses.WriteTrailersOnlyAsync(
                    response, new Status(StatusCode.Internal, $"Malformed grpc-timeout '{timeoutHeader}'.")).ConfigureAwait(false);
                return;
            }

            timeout = parsed;
        }

        await RunCallAsync(httpContext, path, handler, requestEncoding == GrpcProtocol.GzipEncoding ? requestEncoding : null, timeout).ConfigureAwait(false);
    }

    private async Task RunCallAsync(HttpContext httpContext, string path, Func<ServerCallContext, Task> handler, string? requestEncoding, TimeSpan? timeout)
    {
        // Message sizes are ours to limit, per message; Kestrel's whole-body limit would cut long streams.
        if (httpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = null;
        }

        var started = Stopwatch.GetTimestamp();
        // CancellationTokenSource cannot wait longer than ~49 days; a longer grpc-timeout is no deadline in practice.
        var hasDeadline = timeout is { } t && t.TotalMilliseconds < uint.MaxValue - 1;
        using var deadlineSource = hasDeadline ? new CancellationTokenSource(timeout!.Value) : new CancellationTokenSource();
        using var callSource = CancellationTokenSource.CreateLinkedTokenSource(httpContext.RequestAborted, deadlineSource.Token);
        var deadline = hasDeadline ? DateTime.UtcNow + timeout!.Value : DateTime.MaxValue;
        var compressResponses = options.CompressResponses
            && GrpcProtocol.ListContains(httpContext.Request.Headers[GrpcProtocol.AcceptEncodingHeader], GrpcProtocol.GzipEncoding);
        var requestHeaders = MetadataHeaders.FromHeaders(
            httpContext.Request.Headers.Select(h => new KeyValuePair<string, IEnumerable<string>>(h.Key, h.Value.Select(v => v ?? ""))));
        var context = new ServerCallContext(
            httpContext, options, path, deadline, requestHeaders, requestEncoding, compressResponses, callSource.Token);

        var deadlineCompletion = Task.CompletedTask;
        using var deadlineRegistration = deadlineSource.Token.Register(() =>
        {
            ServerLog.DeadlineExceeded(logger, path, deadline);
            deadlineCompletion = context.CompleteAsync(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded"), new Metadata(), endStreamNow: true);
        });

        var status = await RunHandlerAsync(handler, context, httpContext.RequestAborted, deadlineSource.Token).ConfigureAwait(false);
        // Dispose waits for a deadline callback that is running, so deadlineCompletion is final below.
        deadlineRegistration.Dispose();
        if (!httpContext.RequestAborted.IsCancellationRequested)
        {
            await CompleteQuietlyAsync(context, status).ConfigureAwait(false);
        }

        await deadlineCompletion.ConfigureAwait(false);
        ServerLog.CallFinished(logger, path, context.Peer, deadlineSource.IsCancellationRequested ? StatusCode.DeadlineExceeded : status.Status.StatusCode,
            Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    private async Task<(Status Status, Metadata Trailers)> RunHandlerAsync(
        Func<ServerCallContext, Task> handler, ServerCallContext context, CancellationToken aborted, CancellationToken deadlinePassed)
    {
        try
        {
            await handler(context).ConfigureAwait(false);
            return (Status.DefaultSuccess, context.ResponseTrailers);
        }
        catch (RpcException ex)
        {
            return (ex.Status, MergeTrailers(context.ResponseTrailers, ex.Trailers));
        }
        catch (Exception) when (deadlinePassed.IsCancellationRequested)
        {
            return (new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded"), context.ResponseTrailers);
        }
        catch (Exception) when (aborted.IsCancellationRequested)
        {
            return (new Status(StatusCode.Cancelled, "Cancelled by the client"), context.ResponseTrailers);
        }
        catch (Exception ex)
        {
            ServerLog.HandlerFailed(logger, context.Method, ex);
            var detail = options.IncludeExceptionDetails ? $"Exception was thrown by handler. {ex.GetType().Name}: {ex.Message}" : "Exception was thrown by handler.";
            return (new Status(StatusCode.Unknown, detail), context.ResponseTrailers);
        }
    }

    /// <summary>The client may vanish between the handler's end and the status: that is not the server's error.</summary>
    private static async Task CompleteQuietlyAsync(ServerCallContext context, (Status Status, Metadata Trailers) outcome)
    {
        try
        {
            await context.CompleteAsync(outcome.Status, outcome.Trailers, endStreamNow: false).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
        }
    }

    private static Metadata MergeTrailers(Metadata contextTrailers, Metadata exceptionTrailers)
    {
        var merged = new Metadata();
        foreach (var entry in contextTrailers.Concat(exceptionTrailers))
        {
            merged.Add(entry);
        }

        return merged;
    }

    private void Refuse(string path, string reason) => ServerLog.RequestRefused(logger, path, reason);
}
