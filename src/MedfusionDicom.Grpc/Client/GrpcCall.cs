using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using Polly;

namespace MedfusionDicom.Grpc.Client;

/// <summary>
/// One call from the client, of any shape: requests are given at the start (unary, server streaming) or written
/// (client streaming, duplex); responses are read one (<see cref="ResponseAsync"/>) or many (<see cref="ReadAllAsync"/>).
/// Disposing a call that has not finished cancels it.
/// </summary>
public sealed class GrpcCall<TRequest, TResponse> : IAsyncDisposable
{
    private static readonly TransferCodingWithQualityHeaderValue TrailersTransferCoding = new("trailers");

    private readonly GrpcChannel channel;
    private readonly Method<TRequest, TResponse> method;
    private readonly CallOptions options;
    private readonly bool compressRequest;
    private readonly CancellationTokenSource deadlineSource = new();
    private readonly CancellationTokenSource callSource;
    private readonly CancellationTokenRegistration cancellationRegistration;
    private readonly TaskCompletionSource<Metadata> headersSource = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<PipeWriter>? requestWriterSource;
    private readonly TaskCompletionSource? requestCompletedSource;
    private readonly SemaphoreSlim requestWriteLock = new(1, 1);
    private readonly Lock stateLock = new();
    private readonly Task<HttpResponseMessage> responseStart;
    private PipeReader? responseReader;
    private string? responseEncoding;
    private Status? status;
    private Metadata trailers = new();
    private Task<TResponse>? singleResponse;

    internal GrpcCall(GrpcChannel channel, Method<TRequest, TResponse> method, CallOptions options, TRequest? request, bool streamingRequest = false)
    {
        this.channel = channel;
        this.method = method;
        this.options = options;
        compressRequest = options.CompressRequest ?? channel.Options.CompressRequests;
        callSource = CancellationTokenSource.CreateLinkedTokenSource(options.CancellationToken, deadlineSource.Token);
        if (streamingRequest)
        {
            requestWriterSource = new(TaskCreationOptions.RunContinuationsAsynchronously);
            requestCompletedSource = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        cancellationRegistration = callSource.Token.Register(() => Abort(CancellationStatus()));
        StartDeadline();
        responseStart = StartAsync(request, streamingRequest);
    }

    /// <summary>The server's response headers; faults with the call's <see cref="RpcException"/> if it fails first.</summary>
    public Task<Metadata> ResponseHeadersAsync => headersSource.Task;

    /// <summary>The single response of a unary or client-streaming call.</summary>
    public Task<TResponse> ResponseAsync
    {
        get
        {
            lock (stateLock)
            {
                return singleResponse ??= ReadSingleResponseAsync();
            }
        }
    }

    /// <summary>The responses of a server-streaming or duplex call; cancelling the token cancels the call.</summary>
    public async IAsyncEnumerable<TResponse> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var registration = cancellationToken.Register(() => Abort(new Status(StatusCode.Cancelled, "Call canceled by the client.")));
        while (true)
        {
            var (found, message) = await ReadNextAsync().ConfigureAwait(false);
            if (!found)
            {
                yield break;
            }

            yield return message!;
        }
    }

    /// <summary>Sends one request message of a client-streaming or duplex call.</summary>
    public async Task WriteAsync(TRequest message)
    {
        if (requestWriterSource is null)
        {
            throw new InvalidOperationException($"{method.FullName} took its request when it started.");
        }

        try
        {
            var writer = await requestWriterSource.Task.WaitAsync(callSource.Token).ConfigureAwait(false);
            await requestWriteLock.WaitAsync(callSource.Token).ConfigureAwait(false);
            try
            {
                MessageFraming.WriteMessage(writer, message, method.RequestMarshaller, compressRequest, channel.Options.MaxSendMessageSize);
                await writer.FlushAsync(callSource.Token).ConfigureAwait(false);
            }
            finally
            {
                requestWriteLock.Release();
            }
        }
        catch (Exception ex)
        {
            throw Fail(ex);
        }
    }

    /// <summary>Half-closes the request stream: the server sees its end.</summary>
    public Task CompleteRequestAsync()
    {
        if (requestCompletedSource is null)
        {
            throw new InvalidOperationException($"{method.FullName} took its request when it started.");
        }

        requestCompletedSource.TrySetResult();
        return Task.CompletedTask;
    }

    /// <summary>The status the call ended with; only once it has ended.</summary>
    public Status GetStatus()
    {
        lock (stateLock)
        {
            return status ?? throw new InvalidOperationException("The call is still running.");
        }
    }

    public Metadata GetTrailers()
    {
        lock (stateLock)
        {
            return status is null ? throw new InvalidOperationException("The call is still running.") : trailers;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Abort(new Status(StatusCode.Cancelled, "Call disposed before it finished."));
        try
        {
            await responseStart.ConfigureAwait(false);
        }
        catch (RpcException)
        {
            // Already reported to whoever read the call; disposing only releases it.
        }

        await cancellationRegistration.DisposeAsync().ConfigureAwait(false);
        callSource.Dispose();
        deadlineSource.Dispose();
        requestWriteLock.Dispose();
    }

    private void StartDeadline()
    {
        if (options.Deadline is not { } deadline || deadline == DateTime.MaxValue)
        {
            return;
        }

        var remaining = deadline.ToUniversalTime() - DateTime.UtcNow;
        if (remaining <= TimeSpan.Zero)
        {
            deadlineSource.Cancel();
        }
        else if (remaining.TotalMilliseconds < uint.MaxValue - 1)
        {
            deadlineSource.CancelAfter(remaining);
        }
    }

    private async Task<HttpResponseMessage> StartAsync(TRequest? request, bool streamingRequest)
    {
        var context = ResilienceContextPool.Shared.Get(callSource.Token);
        context.Properties.Set(GrpcCallContext.MethodKey, method.FullName);
        try
        {
            if (!streamingRequest)
            {
                var size = method.RequestMarshaller.CalculateSize(request!);
                if (size > channel.Options.MaxSendMessageSize)
                {
                    throw new RpcException(StatusCode.ResourceExhausted, $"Sending message larger than max ({size} vs. {channel.Options.MaxSendMessageSize})");
                }
            }

            // A streamed request cannot be replayed, so only calls with a single request message are retried.
            var pipeline = streamingRequest ? ResiliencePipeline.Empty : channel.RetryPipeline;
            var attempt = 0;
            var response = await pipeline.ExecuteAsync(
                async ctx => await SendAttemptAsync(request, streamingRequest, attempt++, ctx.CancellationToken).ConfigureAwait(false),
                context).ConfigureAwait(false);
            return response;
        }
        catch (Exception ex)
        {
            throw Fail(ex);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private async ValueTask<HttpResponseMessage> SendAttemptAsync(TRequest? request, bool streamingRequest, int attempt, CancellationToken cancellationToken)
    {
        using var httpRequest = CreateHttpRequest(request, streamingRequest, attempt);
        HttpResponseMessage response;
        try
        {
            response = await channel.Invoker.SendAsync(httpRequest, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "Error starting gRPC call: " + ex.Message), innerException: ex);
        }

        var headers = MetadataHeaders.FromHeaders(response.Headers);
        var failure = CheckResponseStart(response);
        if (failure is not null)
        {
            response.Dispose();
            throw new RpcException(failure.Value, headers);
        }

        headersSource.TrySetResult(headers);
        if (TryReadStatus(response.Headers, out var trailersOnlyStatus))
        {
            // Trailers-Only with OK (e.g. a stream without messages): the call is over already.
            Finish(trailersOnlyStatus, headers);
            return response;
        }

        responseEncoding = response.Headers.TryGetValues(GrpcProtocol.EncodingHeader, out var encodings) ? encodings.FirstOrDefault() : null;
        responseEncoding = responseEncoding == GrpcProtocol.IdentityEncoding ? null : responseEncoding;
        responseReader = PipeReader.Create(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
        return response;
    }

    private HttpRequestMessage CreateHttpRequest(TRequest? request, bool streamingRequest, int attempt)
    {
        var content = new GrpcRequestContent(streamingRequest ? StreamRequestsAsync : (writer, ct) => WriteSingleRequestAsync(writer, request!, ct));
        var httpRequest = new HttpRequestMessage(HttpMethod.Post, new Uri(channel.Address, method.FullName))
        {
            Version = HttpVersion.Version20,
            // Exact HTTP/2: prior knowledge over cleartext, ALPN h2 over TLS; never a silent HTTP/1.1 fallback.
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };
        var headers = httpRequest.Headers;
        headers.TE.Add(TrailersTransferCoding);
        headers.TryAddWithoutValidation("user-agent", "medfusion-grpc-dotnet/1.0");
        headers.TryAddWithoutValidation(GrpcProtocol.AcceptEncodingHeader, GrpcProtocol.SupportedEncodings);
        if (compressRequest)
        {
            headers.TryAddWithoutValidation(GrpcProtocol.EncodingHeader, GrpcProtocol.GzipEncoding);
        }

        if (options.Deadline is { } deadline && deadline != DateTime.MaxValue)
        {
            headers.TryAddWithoutValidation(GrpcProtocol.TimeoutHeader, GrpcProtocol.FormatTimeout(deadline.ToUniversalTime() - DateTime.UtcNow));
        }

        if (attempt > 0)
        {
            headers.TryAddWithoutValidation(GrpcProtocol.PreviousAttemptsHeader, attempt.ToString(CultureInfo.InvariantCulture));
        }

        if (options.Headers is { } metadata)
        {
            foreach (var (name, value) in MetadataHeaders.ToHeaders(metadata))
            {
                headers.TryAddWithoutValidation(name, value);
            }
        }

        return httpRequest;
    }

    /// <summary>No flush: completing the writer flushes, so the message and END_STREAM can leave together.</summary>
    private Task WriteSingleRequestAsync(PipeWriter writer, TRequest request, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        MessageFraming.WriteMessage(writer, request, method.RequestMarshaller, compressRequest, channel.Options.MaxSendMessageSize);
        return Task.CompletedTask;
    }

    /// <summary>Hands the request body to <see cref="WriteAsync"/> and keeps it open until the caller completes it.</summary>
    private async Task StreamRequestsAsync(PipeWriter writer, CancellationToken cancellationToken)
    {
        requestWriterSource!.TrySetResult(writer);
        await requestCompletedSource!.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        await requestWriteLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        requestWriteLock.Release();
    }

    private static Status? CheckResponseStart(HttpResponseMessage response)
    {
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return new Status(
                GrpcProtocol.StatusFromHttpStatus(response.StatusCode),
                $"Bad gRPC response. HTTP status code: {(int)response.StatusCode}");
        }

        var contentType = response.Content.Headers.ContentType?.ToString();
        if (!GrpcProtocol.IsGrpcContentType(contentType))
        {
            return new Status(StatusCode.Internal, $"Bad gRPC response. Invalid content-type value: {contentType}");
        }

        if (TryReadStatus(response.Headers, out var trailersOnly) && trailersOnly.StatusCode != StatusCode.OK)
        {
            return trailersOnly;
        }

        if (response.Headers.TryGetValues(GrpcProtocol.EncodingHeader, out var encodings)
            && encodings.FirstOrDefault() is { } encoding && encoding != GrpcProtocol.IdentityEncoding && encoding != GrpcProtocol.GzipEncoding)
        {
            return new Status(StatusCode.Internal, $"The server used an unsupported grpc-encoding '{encoding}'.");
        }

        return null;
    }

    private static bool TryReadStatus(HttpHeaders headers, out Status status)
    {
        status = default;
        if (!headers.TryGetValues(GrpcProtocol.StatusHeader, out var codes))
        {
            return false;
        }

        var detail = headers.TryGetValues(GrpcProtocol.MessageHeader, out var messages) ? GrpcProtocol.PercentDecode(messages.First()) : "";
        status = int.TryParse(codes.First(), NumberStyles.None, CultureInfo.InvariantCulture, out var code)
            ? new Status(Enum.IsDefined((StatusCode)code) ? (StatusCode)code : StatusCode.Unknown, detail)
            : new Status(StatusCode.Unknown, $"Unparsable grpc-status '{codes.First()}'. {detail}");
        return true;
    }

    private async Task<TResponse> ReadSingleResponseAsync()
    {
        var (found, message) = await ReadNextAsync().ConfigureAwait(false);
        if (!found)
        {
            throw Fail(new RpcException(StatusCode.Internal, "The server ended the call without a response message."));
        }

        var (extra, _) = await ReadNextAsync().ConfigureAwait(false);
        if (extra)
        {
            throw Fail(new RpcException(StatusCode.Internal, "The server sent more than one response message."));
        }

        return message!;
    }

    private async ValueTask<(bool Found, TResponse? Message)> ReadNextAsync()
    {
        var response = await responseStart.ConfigureAwait(false);
        lock (stateLock)
        {
            if (status is { } ended)
            {
                return ended.StatusCode == StatusCode.OK ? (false, default) : throw new RpcException(ended, trailers);
            }
        }

        try
        {
            var (found, message) = await MessageFraming.ReadMessageAsync(
                responseReader!, method.ResponseMarshaller, responseEncoding, channel.Options.MaxReceiveMessageSize, callSource.Token).ConfigureAwait(false);
            if (found)
            {
                return (true, message);
            }

            var trailerMetadata = MetadataHeaders.FromHeaders(response.TrailingHeaders);
            var final = TryReadStatus(response.TrailingHeaders, out var trailerStatus)
                ? trailerStatus
                : new Status(StatusCode.Internal, "The response ended without grpc-status.");
            Finish(final, trailerMetadata);
            return final.StatusCode == StatusCode.OK ? (false, default) : throw new RpcException(final, trailerMetadata);
        }
        catch (Exception ex)
        {
            throw Fail(ex);
        }
    }

    /// <summary>Records the call's end once (the first cause wins) and releases a request writer that waits.</summary>
    private Status Finish(Status outcome, Metadata outcomeTrailers)
    {
        lock (stateLock)
        {
            if (status is { } earlier)
            {
                return earlier;
            }

            status = outcome;
            trailers = outcomeTrailers;
        }

        ClientLog.CallFinished(channel.Logger, method.FullName, outcome.StatusCode, outcome.Detail);
        var ended = new RpcException(outcome, outcomeTrailers);
        headersSource.TrySetException(ended);
        requestWriterSource?.TrySetException(ended);
        requestCompletedSource?.TrySetResult();
        return outcome;
    }

    /// <summary>Ends the call with a status and resets the HTTP/2 stream, which cancels the server's work.</summary>
    private void Abort(Status outcome)
    {
        var final = Finish(outcome, new Metadata());
        if (final == outcome && !callSource.IsCancellationRequested)
        {
            callSource.Cancel();
        }

        if (responseStart is { IsCompletedSuccessfully: true } started)
        {
            started.Result.Dispose();
        }
    }

    private RpcException Fail(Exception ex)
    {
        var failure = ex as RpcException ?? new RpcException(TransportFailureStatus(ex), innerException: ex);
        var final = Finish(failure.Status, failure.Trailers);
        Abort(final);
        return final == failure.Status ? failure : new RpcException(final, GetTrailers());
    }

    private Status CancellationStatus() =>
        deadlineSource.IsCancellationRequested && !options.CancellationToken.IsCancellationRequested
            ? new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded")
            : new Status(StatusCode.Cancelled, "Call canceled by the client.");

    /// <summary>Maps what HttpClient throws to a status (doc/PROTOCOL-HTTP2.md, "Errors").</summary>
    private Status TransportFailureStatus(Exception ex)
    {
        if (callSource.IsCancellationRequested)
        {
            return CancellationStatus();
        }

        var protocolError = ex as HttpProtocolException ?? ex.InnerException as HttpProtocolException;
        if (protocolError is not null)
        {
            // SocketsHttpHandler reports a failed connection (keepalive ping unanswered, GOAWAY, protocol error) and a
            // reset stream with the same exception type; only the codes a server uses on purpose for one stream get
            // their own status, the rest mean the connection failed: UNAVAILABLE, which a caller may retry elsewhere.
            var code = protocolError.ErrorCode switch
            {
                0x7 => StatusCode.Unavailable, // REFUSED_STREAM: the server did not start it
                0x8 => StatusCode.Cancelled, // CANCEL
                0xb => StatusCode.ResourceExhausted, // ENHANCE_YOUR_CALM
                0xc => StatusCode.PermissionDenied, // INADEQUATE_SECURITY
                _ => StatusCode.Unavailable,
            };
            return new Status(code, $"HTTP/2 error 0x{protocolError.ErrorCode:x}: {protocolError.Message}");
        }

        return ex switch
        {
            HttpRequestException or IOException => new Status(StatusCode.Unavailable, "Connection failed: " + ex.Message),
            OperationCanceledException => new Status(StatusCode.Cancelled, "Call canceled."),
            _ => new Status(StatusCode.Unknown, "Client failure: " + ex.Message),
        };
    }
}
