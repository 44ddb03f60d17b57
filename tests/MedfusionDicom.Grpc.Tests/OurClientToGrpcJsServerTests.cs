using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Health.V1;
using MedfusionDicom.Grpc.Client;
using MedfusionDicom.Grpc.Health;
using MedfusionDicom.Grpc.Tests.Echo;
using MedfusionDicom.Grpc.Tests.Infrastructure;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace MedfusionDicom.Grpc.Tests;

/// <summary>Our client against the grpc-js server, one test per transport feature.</summary>
[Collection(InteropCollection.Name)]
public sealed class OurClientToGrpcJsServerTests(InteropFixture fixture) : IDisposable
{
    private readonly GrpcChannel channel = GrpcChannel.ForAddress($"http://{fixture.NodeServer.Target}");

    public void Dispose() => channel.Dispose();

    private static string NewId() => Guid.NewGuid().ToString();

    private Task<Observation> ObserveAsync(string id) => channel.UnaryAsync(EchoMethods.Observe, new ObserveRequest { Id = id });

    [Fact]
    public async Task Unary_call_round_trips_payload_and_metadata_including_binary_headers_and_trailers()
    {
        var payload = ByteString.CopyFrom(Enumerable.Range(0, 300_000).Select(i => (byte)i).ToArray());
        var headers = new Metadata().Add("x-echo-ascii", "plain value").Add("x-echo-blob-bin", [0, 1, 2, 255]);
        await using var call = channel.StartCall(EchoMethods.Echo, new EchoRequest { Id = NewId(), Text = "hello", Payload = payload }, new CallOptions { Headers = headers });

        var response = await call.ResponseAsync;
        var responseHeaders = await call.ResponseHeadersAsync;

        Assert.Equal("hello", response.Text);
        Assert.Equal(payload, response.Payload);
        Assert.Equal("plain value", responseHeaders.GetValue("x-echo-ascii"));
        Assert.Equal([0, 1, 2, 255], responseHeaders.GetValueBytes("x-echo-blob-bin"));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal("plain value", call.GetTrailers().GetValue("x-trailer-ascii"));
        Assert.Equal([0, 1, 2, 255], call.GetTrailers().GetValueBytes("x-trailer-blob-bin"));
    }

    [Fact]
    public async Task Server_streaming_delivers_every_response_in_order()
    {
        await using var call = channel.StartCall(EchoMethods.EchoStream, new EchoRequest { Id = NewId(), ResponseCount = 20, ResponsePayloadSize = 3000 });

        var responses = await call.ReadAllAsync().ToListAsync();

        Assert.Equal(Enumerable.Range(0, 20), responses.Select(r => (int)r.Index));
        Assert.All(responses, r => Assert.Equal(3000, r.Payload.Length));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Client_streaming_and_duplex_calls_send_every_request()
    {
        await using var collect = channel.StartCall(EchoMethods.Collect);
        await using var chat = channel.StartCall(EchoMethods.Chat);
        foreach (var i in Enumerable.Range(0, 5))
        {
            await collect.WriteAsync(new EchoRequest { Text = $"r{i}", Payload = ByteString.CopyFrom(new byte[1000]) });
            await chat.WriteAsync(new EchoRequest { Text = $"r{i}" });
        }

        await collect.CompleteRequestAsync();
        await chat.CompleteRequestAsync();
        var summary = await collect.ResponseAsync;
        var replies = await chat.ReadAllAsync().ToListAsync();

        Assert.Equal("r0,r1,r2,r3,r4", summary.Text);
        Assert.Equal(5000UL, summary.PayloadBytes);
        Assert.Equal(["r0", "r1", "r2", "r3", "r4"], replies.Select(r => r.Text));
    }

    [Fact]
    public async Task Duplex_replies_arrive_while_the_request_stream_is_still_open()
    {
        await using var chat = channel.StartCall(EchoMethods.Chat);
        await using var replies = chat.ReadAllAsync().GetAsyncEnumerator();
        foreach (var text in new[] { "ping", "pong" })
        {
            await chat.WriteAsync(new EchoRequest { Text = text });
            Assert.True(await replies.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
            Assert.Equal(text, replies.Current.Text);
        }

        await chat.CompleteRequestAsync();
        Assert.False(await replies.MoveNextAsync());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Error_status_carries_a_percent_encoded_unicode_message_and_trailers(bool streaming)
    {
        var request = new EchoRequest { Id = NewId(), ResponseCount = 2, FailCode = (int)StatusCode.FailedPrecondition, FailMessage = "Bildgröße 100% falsch\r\n✓" };
        var options = new CallOptions { Headers = new Metadata().Add("x-echo-reason", "size") };
        await using var call = channel.StartCall(streaming ? EchoMethods.EchoStream : EchoMethods.Echo, request, options);

        var received = new List<EchoResponse>();
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            if (!streaming)
            {
                await call.ResponseAsync;
            }

            await foreach (var response in call.ReadAllAsync())
            {
                received.Add(response);
            }
        });

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Equal("Bildgröße 100% falsch\r\n✓", error.Status.Detail);
        Assert.Equal("size", error.Trailers.GetValue("x-trailer-reason"));
        Assert.Equal(streaming ? 2 : 0, received.Count);
    }

    [Fact]
    public async Task Unknown_method_is_unimplemented()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(EchoMethods.Missing, new EchoRequest()));

        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
    }

    [Fact]
    public async Task Deadline_fails_the_call_and_the_server_sees_it_cancelled()
    {
        var id = NewId();
        var started = DateTime.UtcNow;
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync(EchoMethods.Echo, new EchoRequest { Id = id, DelayMs = 20_000 }, CallOptions.WithTimeout(TimeSpan.FromMilliseconds(300))));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(3));
        await WaitUntilAsync(async () => (await ObserveAsync(id)).Cancelled);
    }

    [Fact]
    public async Task Cancellation_resets_the_stream_and_the_server_sees_it()
    {
        var id = NewId();
        using var cancellation = new CancellationTokenSource();
        await using var call = channel.StartCall(
            EchoMethods.EchoStream, new EchoRequest { Id = id, ResponseCount = 1000, DelayMs = 50 }, new CallOptions { CancellationToken = cancellation.Token });

        var received = 0;
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var response in call.ReadAllAsync())
            {
                if (++received == 3)
                {
                    await cancellation.CancelAsync();
                }
            }
        });

        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        await WaitUntilAsync(async () => (await ObserveAsync(id)).Cancelled);
        Assert.InRange((await ObserveAsync(id)).ResponsesSent, 3u, 10u);
    }

    [Fact]
    public async Task Messages_above_the_size_limits_are_resource_exhausted_in_both_directions()
    {
        using var limited = GrpcChannel.ForAddress($"http://{fixture.NodeServer.Target}", new GrpcChannelOptions { MaxReceiveMessageSize = 1024 * 1024, MaxSendMessageSize = 1024 * 1024 });

        var tooLargeReply = await Assert.ThrowsAsync<RpcException>(() =>
            limited.UnaryAsync(EchoMethods.Echo, new EchoRequest { Id = NewId(), ResponsePayloadSize = 2 * 1024 * 1024 }));
        var tooLargeRequest = await Assert.ThrowsAsync<RpcException>(() =>
            limited.UnaryAsync(EchoMethods.Echo, new EchoRequest { Id = NewId(), Payload = ByteString.CopyFrom(new byte[2 * 1024 * 1024]) }));
        var beyondServerLimit = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync(EchoMethods.Echo, new EchoRequest { Id = NewId(), Payload = ByteString.CopyFrom(new byte[(64 * 1024 * 1024) + 1]) }));

        Assert.Equal(StatusCode.ResourceExhausted, tooLargeReply.StatusCode);
        Assert.Equal(StatusCode.ResourceExhausted, tooLargeRequest.StatusCode);
        Assert.Equal(StatusCode.ResourceExhausted, beyondServerLimit.StatusCode);
    }

    [Fact]
    public async Task Gzip_compressed_requests_and_responses_are_understood_both_ways()
    {
        await using var compressingServer = await NodeEchoServer.StartAsync("--compress");
        await using var relay = new TcpRelay(compressingServer.Port);
        using var compressing = GrpcChannel.ForAddress($"http://127.0.0.1:{relay.Port}", new GrpcChannelOptions { CompressRequests = true });
        var payload = ByteString.CopyFrom(new byte[1024 * 1024]);

        var response = await compressing.UnaryAsync(EchoMethods.Echo, new EchoRequest { Id = NewId(), Payload = payload });

        Assert.Equal(payload, response.Payload);
        Assert.InRange(relay.ClientToServerBytes, 1, 100_000);
    }

    [Fact]
    public async Task Tls_with_alpn_h2_carries_calls_to_a_server_with_a_private_root()
    {
        using var secure = GrpcChannel.ForAddress(
            $"https://{fixture.NodeTlsServer.Target}", new GrpcChannelOptions { TrustedRootCertificate = fixture.Tls.Certificate });
        using var untrusting = GrpcChannel.ForAddress($"https://{fixture.NodeTlsServer.Target}", new GrpcChannelOptions { MaxRetryAttempts = 0 });

        var response = await secure.UnaryAsync(EchoMethods.Echo, new EchoRequest { Id = NewId(), Text = "secure" });
        var refused = await Assert.ThrowsAsync<RpcException>(() => untrusting.UnaryAsync(EchoMethods.Echo, new EchoRequest { Id = NewId() }));

        Assert.Equal("secure", response.Text);
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
    }

    [Fact]
    public async Task Health_check_and_watch_follow_the_serving_status()
    {
        const string service = "medfusion.v1.InferenceWorker";
        var unknown = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(HealthMethods.Check, new HealthCheckRequest { Service = "nothing.Here" }));
        await channel.UnaryAsync(EchoMethods.SetHealth, new HealthUpdate { Service = service, Status = (int)ServingStatus.NotServing });
        var checkedStatus = await channel.UnaryAsync(HealthMethods.Check, new HealthCheckRequest { Service = service });

        await using var watch = channel.StartCall(HealthMethods.Watch, new HealthCheckRequest { Service = service });
        await using var updates = watch.ReadAllAsync().GetAsyncEnumerator();
        Assert.True(await updates.MoveNextAsync());
        var first = updates.Current.Status;
        await channel.UnaryAsync(EchoMethods.SetHealth, new HealthUpdate { Service = service, Status = (int)ServingStatus.Serving });
        Assert.True(await updates.MoveNextAsync());

        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(ServingStatus.NotServing, checkedStatus.Status);
        Assert.Equal(ServingStatus.NotServing, first);
        Assert.Equal(ServingStatus.Serving, updates.Current.Status);
    }

    [Fact]
    public async Task Calls_share_one_connection()
    {
        await using var relay = new TcpRelay(fixture.NodeServer.Port);
        using var counted = GrpcChannel.ForAddress($"http://127.0.0.1:{relay.Port}");

        var sequential = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            sequential.Add((await counted.UnaryAsync(EchoMethods.Echo, new EchoRequest { Id = NewId() })).Peer);
        }

        var concurrent = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => counted.UnaryAsync(EchoMethods.Echo, new EchoRequest { Id = NewId() })));

        Assert.Single(sequential.Concat(concurrent.Select(r => r.Peer)).Distinct());
        Assert.Equal(1, relay.ConnectionCount);
    }

    [Fact]
    public async Task Keepalive_pings_detect_a_dead_server_and_fail_the_call_as_unavailable()
    {
        await using var relay = new TcpRelay(fixture.NodeServer.Port);
        using var pinging = GrpcChannel.ForAddress(
            $"http://127.0.0.1:{relay.Port}",
            new GrpcChannelOptions { KeepAlivePingDelay = TimeSpan.FromSeconds(1), KeepAlivePingTimeout = TimeSpan.FromSeconds(1), MaxRetryAttempts = 0 });
        await using var call = pinging.StartCall(EchoMethods.EchoStream, new EchoRequest { Id = NewId(), ResponseCount = 2, DelayMs = 60_000 });
        await call.ResponseHeadersAsync;

        relay.Freeze();
        var started = DateTime.UtcNow;
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ReadAllAsync().ToListAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(15)));

        Assert.True(error.StatusCode == StatusCode.Unavailable, error.Status.ToString() + " " + error.InnerException);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.Zero, TimeSpan.FromSeconds(6));
    }

    [Fact]
    public async Task Unavailable_is_retried_until_an_attempt_succeeds()
    {
        using var retrying = GrpcChannel.ForAddress($"http://{fixture.NodeServer.Target}", new GrpcChannelOptions { MaxRetryAttempts = 3, RetryBaseDelay = TimeSpan.FromMilliseconds(10) });
        var unaryId = NewId();
        var streamId = NewId();

        var response = await retrying.UnaryAsync(EchoMethods.Echo, new EchoRequest { Id = unaryId, Text = "third time", UnavailableAttempts = 2 });
        await using var stream = retrying.StartCall(EchoMethods.EchoStream, new EchoRequest { Id = streamId, ResponseCount = 2, UnavailableAttempts = 1 });
        var streamed = await stream.ReadAllAsync().ToListAsync();

        Assert.Equal("third time", response.Text);
        Assert.Equal(3u, (await ObserveAsync(unaryId)).Attempts);
        Assert.Equal(2, streamed.Count);
        Assert.Equal(2u, (await ObserveAsync(streamId)).Attempts);
    }

    [Fact]
    public async Task Retries_stop_at_the_limit_and_never_repeat_other_failures()
    {
        using var retrying = GrpcChannel.ForAddress($"http://{fixture.NodeServer.Target}", new GrpcChannelOptions { MaxRetryAttempts = 2, RetryBaseDelay = TimeSpan.FromMilliseconds(10) });
        var exhaustedId = NewId();
        var internalId = NewId();

        var exhausted = await Assert.ThrowsAsync<RpcException>(() => retrying.UnaryAsync(EchoMethods.Echo, new EchoRequest { Id = exhaustedId, UnavailableAttempts = 10 }));
        var notRetried = await Assert.ThrowsAsync<RpcException>(() => retrying.UnaryAsync(EchoMethods.Echo, new EchoRequest { Id = internalId, FailCode = (int)StatusCode.Internal }));

        Assert.Equal(StatusCode.Unavailable, exhausted.StatusCode);
        Assert.Equal(3u, (await ObserveAsync(exhaustedId)).Attempts);
        Assert.Equal(StatusCode.Internal, notRetried.StatusCode);
        Assert.Equal(1u, (await ObserveAsync(internalId)).Attempts);
    }

    [Fact]
    public async Task A_refused_connection_is_unavailable_after_the_retries()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var closedPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var nowhere = GrpcChannel.ForAddress($"http://127.0.0.1:{closedPort}", new GrpcChannelOptions { MaxRetryAttempts = 2, RetryBaseDelay = TimeSpan.FromMilliseconds(10) });

        var error = await Assert.ThrowsAsync<RpcException>(() => nowhere.UnaryAsync(EchoMethods.Echo, new EchoRequest()));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var giveUp = DateTime.UtcNow.AddSeconds(5);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < giveUp, "the server never reported it");
            await Task.Delay(25);
        }
    }
}
