using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Health.V1;
using MedfusionDicom.Grpc.Health;
using MedfusionDicom.Grpc.Server;
using MedfusionDicom.Grpc.Tests.Echo;

namespace MedfusionDicom.Grpc.Tests.Infrastructure;

/// <summary>What our server saw of one call (the counterpart of the grpc-js peer's Observe).</summary>
public sealed class CallRecord
{
    private readonly TaskCompletionSource finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Attempts;
    public volatile bool Cancelled;
    public volatile string? RequestEncoding;
    public volatile string? Peer;
    public DateTime? Deadline;
    public Metadata? RequestHeaders;

    public Task Finished => finished.Task;

    internal void MarkFinished() => finished.TrySetResult();
}

/// <summary>Our server's side of medfusion.test.v1.EchoService, with the semantics of tests/interop/node/server.js.</summary>
public sealed class TestEchoService(HealthService health)
{
    private readonly ConcurrentDictionary<string, CallRecord> records = new();

    public CallRecord Record(string id) => records.GetOrAdd(id, _ => new CallRecord());

    public ServiceDefinition BindService() =>
        ServiceDefinition.CreateBuilder(EchoMethods.ServiceName)
            .AddUnary(EchoMethods.Echo, EchoAsync)
            .AddServerStreaming(EchoMethods.EchoStream, EchoStreamAsync)
            .AddClientStreaming(EchoMethods.Collect, CollectAsync)
            .AddDuplexStreaming(EchoMethods.Chat, ChatAsync)
            .AddUnary(EchoMethods.SetHealth, SetHealthAsync)
            .Build();

    private async Task<EchoResponse> EchoAsync(EchoRequest request, ServerCallContext context)
    {
        var record = Begin(request, context);
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

    private async Task EchoStreamAsync(EchoRequest request, IServerStreamWriter<EchoResponse> responses, ServerCallContext context)
    {
        var record = Begin(request, context);
        try
        {
            for (var i = 0; i < request.ResponseCount; i++)
            {
                await Task.Delay((int)request.DelayMs, context.CancellationToken);
                await responses.WriteAsync(Response(request, i, context));
            }

            EndOrFail(request, context);
        }
        finally
        {
            record.MarkFinished();
        }
    }

    private static async Task<EchoResponse> CollectAsync(IAsyncEnumerable<EchoRequest> requests, ServerCallContext context)
    {
        var texts = new List<string>();
        ulong bytes = 0;
        await foreach (var request in requests)
        {
            texts.Add(request.Text);
            bytes += (ulong)request.Payload.Length;
        }

        return new EchoResponse { Text = string.Join(',', texts), RequestCount = (uint)texts.Count, PayloadBytes = bytes, Peer = context.Peer };
    }

    private static async Task ChatAsync(IAsyncEnumerable<EchoRequest> requests, IServerStreamWriter<EchoResponse> responses, ServerCallContext context)
    {
        uint count = 0;
        await foreach (var request in requests)
        {
            count++;
            await responses.WriteAsync(new EchoResponse { Text = request.Text, Payload = request.Payload, Index = count - 1, RequestCount = count, Peer = context.Peer });
        }
    }

    private Task<HealthUpdated> SetHealthAsync(HealthUpdate update, ServerCallContext context)
    {
        health.SetStatus(update.Service, (HealthCheckResponse.Types.ServingStatus)update.Status);
        return Task.FromResult(new HealthUpdated());
    }

    private CallRecord Begin(EchoRequest request, ServerCallContext context)
    {
        var record = Record(request.Id);
        record.RequestEncoding = context.HttpContext.Request.Headers["grpc-encoding"];
        record.Peer = context.Peer;
        record.Deadline = context.Deadline;
        record.RequestHeaders = context.RequestHeaders;
        context.CancellationToken.Register(() => record.Cancelled = true);
        if (Interlocked.Increment(ref record.Attempts) <= request.UnavailableAttempts)
        {
            record.MarkFinished();
            throw new RpcException(StatusCode.Unavailable, $"attempt {record.Attempts} refused");
        }

        foreach (var entry in context.RequestHeaders.Where(e => e.Key.StartsWith("x-echo-", StringComparison.Ordinal)))
        {
            context.ResponseHeaders.Add(entry);
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
