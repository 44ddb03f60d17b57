using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;
using MedfusionDicom.Grpc.Client;
using MedfusionDicom.Grpc.Tests.Echo;
using MedfusionDicom.Grpc.Tests.Infrastructure;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace MedfusionDicom.Grpc.Tests;

/// <summary>Our client (Grpc.Net.Client through <see cref="GrpcClientChannel"/>) against the grpc-js server, one test per transport feature.</summary>
[Collection(InteropCollection.Name)]
public sealed class OurClientToGrpcJsServerTests(InteropFixture fixture) : IDisposable
{
    private readonly GrpcClientChannel _channel = GrpcClientChannel.ForAddress($"http://{fixture.NodeServer.Target}");

    private EchoService.EchoServiceClient Echo => new(_channel.CallInvoker);

    public void Dispose() => _channel.Dispose();

    private static string NewId() => Guid.NewGuid().ToString();

    private async Task<Observation> ObserveAsync(string id) => await Echo.ObserveAsync(new ObserveRequest { Id = id });

    private static DateTime In(TimeSpan timeout) => DateTime.UtcNow + timeout;

    [Fact]
    public async Task Unary_call_round_trips_payload_and_metadata_including_binary_headers_and_trailers()
    {
        var payload = ByteString.CopyFrom(Enumerable.Range(0, 300_000).Select(i => (byte)i).ToArray());
        var headers = new Metadata { { "x-echo-ascii", "plain value" }, { "x-echo-blob-bin", new byte[] { 0, 1, 2, 255 } } };
        using var call = Echo.EchoAsync(new EchoRequest { Id = NewId(), Text = "hello", Payload = payload }, headers);

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
        using var call = Echo.EchoStream(new EchoRequest { Id = NewId(), ResponseCount = 20, ResponsePayloadSize = 3000 });

        var responses = await call.ResponseStream.ReadAllAsync().ToListAsync();

        Assert.Equal(Enumerable.Range(0, 20), responses.Select(r => (int)r.Index));
        Assert.All(responses, r => Assert.Equal(3000, r.Payload.Length));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Client_streaming_and_duplex_calls_send_every_request()
    {
        using var collect = Echo.Collect();
        using var chat = Echo.Chat();
        foreach (var i in Enumerable.Range(0, 5))
        {
            await collect.RequestStream.WriteAsync(new EchoRequest { Text = $"r{i}", Payload = ByteString.CopyFrom(new byte[1000]) });
            await chat.RequestStream.WriteAsync(new EchoRequest { Text = $"r{i}" });
        }

        await collect.RequestStream.CompleteAsync();
        await chat.RequestStream.CompleteAsync();
        var summary = await collect.ResponseAsync;
        var replies = await chat.ResponseStream.ReadAllAsync().ToListAsync();

        Assert.Equal("r0,r1,r2,r3,r4", summary.Text);
        Assert.Equal(5000UL, summary.PayloadBytes);
        Assert.Equal(["r0", "r1", "r2", "r3", "r4"], replies.Select(r => r.Text));
    }

    [Fact]
    public async Task Duplex_replies_arrive_while_the_request_stream_is_still_open()
    {
        using var chat = Echo.Chat();
        foreach (var text in new[] { "ping", "pong" })
        {
            await chat.RequestStream.WriteAsync(new EchoRequest { Text = text });
            Assert.True(await chat.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)));
            Assert.Equal(text, chat.ResponseStream.Current.Text);
        }

        await chat.RequestStream.CompleteAsync();
        Assert.False(await chat.ResponseStream.MoveNext(CancellationToken.None));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Error_status_carries_a_percent_encoded_unicode_message_and_trailers(bool streaming)
    {
        var request = new EchoRequest { Id = NewId(), ResponseCount = 2, FailCode = (int)StatusCode.FailedPrecondition, FailMessage = "Bildgröße 100% falsch\r\n✓" };
        var headers = new Metadata { { "x-echo-reason", "size" } };

        var received = new List<EchoResponse>();
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            if (!streaming)
            {
                await Echo.EchoAsync(request, headers);
                return;
            }

            using var call = Echo.EchoStream(request, headers);
            await foreach (var response in call.ResponseStream.ReadAllAsync())
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
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await _channel.CallInvoker.AsyncUnaryCall(EchoCalls.Missing, null, new CallOptions(), new EchoRequest()));

        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
    }

    [Fact]
    public async Task Deadline_fails_the_call_and_the_server_sees_it_cancelled()
    {
        var id = NewId();
        var started = DateTime.UtcNow;
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await Echo.EchoAsync(new EchoRequest { Id = id, DelayMs = 20_000 }, deadline: In(TimeSpan.FromMilliseconds(300))));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(3));
        await WaitUntilAsync(async () => (await ObserveAsync(id)).Cancelled);
    }

    [Fact]
    public async Task Cancellation_resets_the_stream_and_the_server_sees_it()
    {
        var id = NewId();
        using var cancellation = new CancellationTokenSource();
        using var call = Echo.EchoStream(new EchoRequest { Id = id, ResponseCount = 1000, DelayMs = 50 }, cancellationToken: cancellation.Token);

        var received = 0;
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var response in call.ResponseStream.ReadAllAsync())
            {
                if (++received == 3)
                {
                    await cancellation.CancelAsync();
                }
            }
        });

        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        await WaitUntilAsync(async () => (await ObserveAsync(id)).Cancelled);
        // Once the server saw the reset it sends nothing more (how many went out before depends on the load of the
        // machine: the other test classes run meanwhile and keep both peers busy).
        var sent = (await ObserveAsync(id)).ResponsesSent;
        await Task.Delay(300);
        Assert.Equal(sent, (await ObserveAsync(id)).ResponsesSent);
        Assert.InRange(sent, 3u, 100u);
    }

    [Fact]
    public async Task Messages_above_the_size_limits_are_resource_exhausted_in_both_directions()
    {
        using var limited = GrpcClientChannel.ForAddress(
            $"http://{fixture.NodeServer.Target}", new GrpcClientOptions { MaxReceiveMessageSize = 1024 * 1024, MaxSendMessageSize = 1024 * 1024 });
        var client = new EchoService.EchoServiceClient(limited.CallInvoker);

        var tooLargeReply = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.EchoAsync(new EchoRequest { Id = NewId(), ResponsePayloadSize = 2 * 1024 * 1024 }));
        var tooLargeRequest = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.EchoAsync(new EchoRequest { Id = NewId(), Payload = ByteString.CopyFrom(new byte[2 * 1024 * 1024]) }));
        var beyondServerLimit = await Assert.ThrowsAsync<RpcException>(async () =>
            await Echo.EchoAsync(new EchoRequest { Id = NewId(), Payload = ByteString.CopyFrom(new byte[(64 * 1024 * 1024) + 1]) }));

        Assert.Equal(StatusCode.ResourceExhausted, tooLargeReply.StatusCode);
        Assert.Equal(StatusCode.ResourceExhausted, tooLargeRequest.StatusCode);
        Assert.Equal(StatusCode.ResourceExhausted, beyondServerLimit.StatusCode);
    }

    [Fact]
    public async Task Gzip_compressed_requests_and_responses_are_understood_both_ways()
    {
        await using var compressingServer = await NodeEchoServer.StartAsync("--compress");
        await using var relay = new TcpRelay(compressingServer.Port);
        using var compressing = GrpcClientChannel.ForAddress($"http://127.0.0.1:{relay.Port}", new GrpcClientOptions { CompressRequests = true });
        var payload = ByteString.CopyFrom(new byte[1024 * 1024]);

        var response = await new EchoService.EchoServiceClient(compressing.CallInvoker).EchoAsync(new EchoRequest { Id = NewId(), Payload = payload });

        Assert.Equal(payload, response.Payload);
        Assert.InRange(relay.ClientToServerBytes, 1, 100_000);
    }

    [Fact]
    public async Task Tls_with_alpn_h2_carries_calls_to_a_server_with_a_private_root()
    {
        using var secure = GrpcClientChannel.ForAddress(
            $"https://{fixture.NodeTlsServer.Target}", new GrpcClientOptions { TrustedRootCertificate = fixture.Tls.Certificate });
        using var untrusting = GrpcClientChannel.ForAddress($"https://{fixture.NodeTlsServer.Target}", new GrpcClientOptions { MaxRetryAttempts = 0 });

        var response = await new EchoService.EchoServiceClient(secure.CallInvoker).EchoAsync(new EchoRequest { Id = NewId(), Text = "secure" });
        var refused = await Assert.ThrowsAsync<RpcException>(async () =>
            await new EchoService.EchoServiceClient(untrusting.CallInvoker).EchoAsync(new EchoRequest { Id = NewId() }));

        Assert.Equal("secure", response.Text);
        Assert.True(refused.StatusCode == StatusCode.Unavailable, refused.Status.ToString());
    }

    [Fact]
    public async Task Health_check_and_watch_follow_the_serving_status()
    {
        const string service = "medfusion.v1.InferenceWorker";
        var health = new Health.HealthClient(_channel.CallInvoker);
        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await health.CheckAsync(new HealthCheckRequest { Service = "nothing.Here" }));
        await Echo.SetHealthAsync(new HealthUpdate { Service = service, Status = (int)ServingStatus.NotServing });
        var checkedStatus = await health.CheckAsync(new HealthCheckRequest { Service = service });

        using var watch = health.Watch(new HealthCheckRequest { Service = service });
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None));
        var first = watch.ResponseStream.Current.Status;
        await Echo.SetHealthAsync(new HealthUpdate { Service = service, Status = (int)ServingStatus.Serving });
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None));

        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(ServingStatus.NotServing, checkedStatus.Status);
        Assert.Equal(ServingStatus.NotServing, first);
        Assert.Equal(ServingStatus.Serving, watch.ResponseStream.Current.Status);
    }

    [Fact]
    public async Task Reflection_of_the_grpc_js_server_lists_its_services()
    {
        var reflection = new ServerReflection.ServerReflectionClient(_channel.CallInvoker);
        using var call = reflection.ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();

        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var names = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();

        Assert.Contains("medfusion.test.v1.EchoService", names);
        Assert.Contains("grpc.health.v1.Health", names);
    }

    [Fact]
    public async Task Calls_share_one_connection()
    {
        await using var relay = new TcpRelay(fixture.NodeServer.Port);
        using var counted = GrpcClientChannel.ForAddress($"http://127.0.0.1:{relay.Port}");
        var client = new EchoService.EchoServiceClient(counted.CallInvoker);

        var sequential = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            sequential.Add((await client.EchoAsync(new EchoRequest { Id = NewId() })).Peer);
        }

        var concurrent = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => client.EchoAsync(new EchoRequest { Id = NewId() }).ResponseAsync));

        Assert.Single(sequential.Concat(concurrent.Select(r => r.Peer)).Distinct());
        Assert.Equal(1, relay.ConnectionCount);
    }

    [Fact]
    public async Task Keepalive_pings_detect_a_dead_server_and_fail_the_call_as_unavailable()
    {
        await using var relay = new TcpRelay(fixture.NodeServer.Port);
        using var pinging = GrpcClientChannel.ForAddress(
            $"http://127.0.0.1:{relay.Port}",
            new GrpcClientOptions { KeepAlivePingDelay = TimeSpan.FromSeconds(1), KeepAlivePingTimeout = TimeSpan.FromSeconds(1), MaxRetryAttempts = 0 });
        using var call = new EchoService.EchoServiceClient(pinging.CallInvoker).EchoStream(new EchoRequest { Id = NewId(), ResponseCount = 2, DelayMs = 60_000 });
        await call.ResponseHeadersAsync;

        relay.Freeze();
        var started = DateTime.UtcNow;
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.ReadAllAsync().ToListAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(15)));

        Assert.True(error.StatusCode == StatusCode.Unavailable, error.Status.ToString() + " " + error.InnerException);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.Zero, TimeSpan.FromSeconds(6));
    }

    [Fact]
    public async Task Unavailable_is_retried_until_an_attempt_succeeds()
    {
        using var retrying = GrpcClientChannel.ForAddress($"http://{fixture.NodeServer.Target}", new GrpcClientOptions { MaxRetryAttempts = 3, RetryBaseDelay = TimeSpan.FromMilliseconds(10) });
        var client = new EchoService.EchoServiceClient(retrying.CallInvoker);
        var unaryId = NewId();
        var streamId = NewId();

        var response = await client.EchoAsync(new EchoRequest { Id = unaryId, Text = "third time", UnavailableAttempts = 2 });
        using var stream = client.EchoStream(new EchoRequest { Id = streamId, ResponseCount = 2, UnavailableAttempts = 1 });
        var streamed = await stream.ResponseStream.ReadAllAsync().ToListAsync();

        Assert.Equal("third time", response.Text);
        Assert.Equal(3u, (await ObserveAsync(unaryId)).Attempts);
        Assert.Equal(2, streamed.Count);
        Assert.Equal(2u, (await ObserveAsync(streamId)).Attempts);
    }

    [Fact]
    public async Task Retries_stop_at_the_limit_and_never_repeat_other_failures()
    {
        using var retrying = GrpcClientChannel.ForAddress($"http://{fixture.NodeServer.Target}", new GrpcClientOptions { MaxRetryAttempts = 2, RetryBaseDelay = TimeSpan.FromMilliseconds(10) });
        var client = new EchoService.EchoServiceClient(retrying.CallInvoker);
        var exhaustedId = NewId();
        var internalId = NewId();

        var exhausted = await Assert.ThrowsAsync<RpcException>(async () => await client.EchoAsync(new EchoRequest { Id = exhaustedId, UnavailableAttempts = 10 }));
        var notRetried = await Assert.ThrowsAsync<RpcException>(async () => await client.EchoAsync(new EchoRequest { Id = internalId, FailCode = (int)StatusCode.Internal }));

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
        using var nowhere = GrpcClientChannel.ForAddress($"http://127.0.0.1:{closedPort}", new GrpcClientOptions { MaxRetryAttempts = 2, RetryBaseDelay = TimeSpan.FromMilliseconds(10) });

        var error = await Assert.ThrowsAsync<RpcException>(async () => await new EchoService.EchoServiceClient(nowhere.CallInvoker).EchoAsync(new EchoRequest()));

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
