using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using MedfusionDicom.Grpc.Tests.Echo;

namespace MedfusionDicom.Grpc.Tests.Infrastructure;

/// <summary>What our server saw of one call (the counterpart of the grpc-js peer's Observe).</summary>
public sealed class CallRecord
{
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Attempts;
    public volatile bool Cancelled;
    public volatile string? RequestEncoding;
    public volatile string? Peer;
    public DateTime? Deadline;
    public Metadata? RequestHeaders;

    public Task Finished => _finished.Task;

    internal void MarkFinished() => _finished.TrySetResult();
}

/// <summary>
/// Our server's side of medfusion.test.v1.EchoService, with the semantics of tests/interop/node/server.js. Observe is
/// left to the generated base class (UNIMPLEMENTED): only the grpc-js peer reports on its calls that way.
/// </summary>
public sealed class TestEchoService(HealthServiceImpl health) : EchoService.EchoServiceBase
{
    private readonly ConcurrentDictionary<string, CallRecord> _records = new();

    public CallRecord Record(string id) => _records.GetOrAdd(id, _ => new CallRecord());

    public override async Task<EchoResponse> Echo(EchoRequest request, ServerCallContext context)
    {
        var record = await BeginAsync(request, context);
        try
        {
            await Task.Delay((int)request.DelayMs, context.CancellationToken);
            EndOrFail(request, context);
            return Response(request, 0, context);
        }
        finally
        {
            record.MarkFinished();
        }
    }

    public override async Task EchoStream(EchoRequest request, IServerStreamWriter<EchoResponse> responseStream, ServerCallContext context)
    {
        var record = await BeginAsync(request, context);
        try
        {
            for (var i = 0; i < request.ResponseCount; i++)
            {
                await Task.Delay((int)request.DelayMs, context.CancellationToken);
                await responseStream.WriteAsync(Response(request, i, context));
            }

            EndOrFail(request, context);
        }
        finally
        {
            record.MarkFinished();
        }
    }

    public override async Task<EchoResponse> Collect(IAsyncStreamReader<EchoRequest> requestStream, ServerCallContext context)
    {
        var texts = new List<string>();
        ulong bytes = 0;
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            texts.Add(request.Text);
            bytes += (ulong)request.Payload.Length;
        }

        return new EchoResponse { Text = string.Join(',', texts), RequestCount = (uint)texts.Count, PayloadBytes = bytes, Peer = context.Peer };
    }

    public override async Task Chat(IAsyncStreamReader<EchoRequest> requestStream, IServerStreamWriter<EchoResponse> responseStream, ServerCallContext context)
    {
        uint count = 0;
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            count++;
            await responseStream.WriteAsync(new EchoResponse { Text = request.Text, Payload = request.Payload, Index = count - 1, RequestCount = count, Peer = context.Peer });
        }
    }

    public override Task<HealthUpdated> SetHealth(HealthUpdate request, ServerCallContext context)
    {
        health.SetStatus(request.Service, (HealthCheckResponse.Types.ServingStatus)request.Status);
        return Task.FromResult(new HealthUpdated());
    }

    private async Task<CallRecord> BeginAsync(EchoRequest request, ServerCallContext context)
    {
        var record = Record(request.Id);
        record.RequestEncoding = context.GetHttpContext().Request.Headers["grpc-encoding"];
        record.Peer = context.Peer;
        record.Deadline = context.Deadline;
        record.RequestHeaders = context.RequestHeaders;
        context.CancellationToken.Register(() => record.Cancelled = true);
        if (Interlocked.Increment(ref record.Attempts) <= request.UnavailableAttempts)
        {
            record.MarkFinished();
            throw new RpcException(new Status(StatusCode.Unavailable, $"attempt {record.Attempts} refused"));
        }

        var echoed = new Metadata();
        foreach (var entry in context.RequestHeaders.Where(e => e.Key.StartsWith("x-echo-", StringComparison.Ordinal)))
        {
            echoed.Add(entry);
        }

        if (echoed.Count > 0)
        {
            await context.WriteResponseHeadersAsync(echoed);
        }

        return record;
    }

    /// <summary>Echoes x-echo-* headers back as x-trailer-* trailers and ends with the requested status.</summary>
    private static void EndOrFail(EchoRequest request, ServerCallContext context)
    {
        foreach (var entry in context.RequestHeaders.Where(e => e.Key.StartsWith("x-echo-", StringComparison.Ordinal)))
        {
            var key = "x-trailer-" + entry.Key["x-echo-".Length..];
            context.ResponseTrailers.Add(entry.IsBinary ? new Metadata.Entry(key, entry.ValueBytes) : new Metadata.Entry(key, entry.Value));
        }

        if (request.ThrowUnexpected)
        {
            throw new InvalidOperationException("a bug's message, naming /srv/secret/path");
        }

        if (request.FailCode != 0)
        {
            throw new RpcException(new Status((StatusCode)request.FailCode, request.FailMessage));
        }
    }

    private static EchoResponse Response(EchoRequest request, int index, ServerCallContext context) => new()
    {
        Text = request.Text,
        Payload = request.ResponsePayloadSize > 0 ? ByteString.CopyFrom(Filled((int)request.ResponsePayloadSize, (byte)(index % 251))) : request.Payload,
        Index = (uint)index,
        Peer = context.Peer,
    };

    private static byte[] Filled(int length, byte value)
    {
        var bytes = new byte[length];
        Array.Fill(bytes, value);
        return bytes;
    }
}
