using System.Security.Cryptography;
using Grpc.Core;
using MedfusionDicom.Grpc.Tests.Infrastructure;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace MedfusionDicom.Grpc.Tests;

/// <summary>grpc-js as the client of our server, one test per transport feature.</summary>
[Collection(InteropCollection.Name)]
public sealed class GrpcJsClientToOurServerTests(InteropFixture fixture)
{
    private Task<NodeCallResult> CallAsync(object command) => fixture.NodeClient.CallAsync(command);

    [Fact]
    public async Task Unary_call_round_trips_payload_and_metadata_including_binary_headers_and_trailers()
    {
        var result = await CallAsync(new
        {
            target = fixture.OurServer.Target,
            method = "Echo",
            request = new { id = Guid.NewGuid().ToString(), text = "hello" },
            payloadSize = 100_000,
            metadata = new Dictionary<string, string> { ["x-echo-ascii"] = "plain value", ["x-echo-blob-bin"] = Convert.ToBase64String([0, 1, 2, 255]) },
        });

        result.AssertStatus(StatusCode.OK);
        var response = Assert.Single(result.Responses);
        Assert.Equal("hello", response["text"]!.GetValue<string>());
        Assert.Equal(100_000, response["payloadLength"]!.GetValue<int>());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Enumerable.Repeat((byte)7, 100_000).ToArray())), response["payloadSha256"]!.GetValue<string>());
        Assert.Equal(["plain value"], result.Headers["x-echo-ascii"]);
        Assert.Equal(["AAEC/w=="], result.Headers["x-echo-blob-bin"]);
        Assert.Equal(["plain value"], result.Trailers["x-trailer-ascii"]);
        Assert.Equal(["AAEC/w=="], result.Trailers["x-trailer-blob-bin"]);
    }

    [Fact]
    public async Task Server_streaming_delivers_every_response_in_order()
    {
        var result = await CallAsync(new
        {
            target = fixture.OurServer.Target,
            method = "EchoStream",
            request = new { id = Guid.NewGuid().ToString(), text = "s", responseCount = 20, responsePayloadSize = 3000 },
        });

        result.AssertStatus(StatusCode.OK);
        Assert.Equal(Enumerable.Range(0, 20), result.Responses.Select(r => r["index"]!.GetValue<int>()));
        Assert.All(result.Responses, r => Assert.Equal(3000, r["payloadLength"]!.GetValue<int>()));
    }

    [Fact]
    public async Task Client_streaming_and_duplex_calls_see_every_request()
    {
        var requests = Enumerable.Range(0, 5).Select(i => new { text = $"r{i}" }).ToArray();
        var collected = await CallAsync(new { target = fixture.OurServer.Target, method = "Collect", requests, payloadSize = 1000 });
        var chatted = await CallAsync(new { target = fixture.OurServer.Target, method = "Chat", requests });

        collected.AssertStatus(StatusCode.OK);
        var summary = Assert.Single(collected.Responses);
        Assert.Equal("r0,r1,r2,r3,r4", summary["text"]!.GetValue<string>());
        Assert.Equal(5000, summary["payloadBytes"]!.GetValue<int>());
        chatted.AssertStatus(StatusCode.OK);
        Assert.Equal(["r0", "r1", "r2", "r3", "r4"], chatted.Responses.Select(r => r["text"]!.GetValue<string>()));
    }

    [Theory]
    [InlineData("Echo")]
    [InlineData("EchoStream")]
    public async Task Error_status_carries_a_percent_encoded_unicode_message_and_trailers(string method)
    {
        var result = await CallAsync(new
        {
            target = fixture.OurServer.Target,
            method,
            request = new { id = Guid.NewGuid().ToString(), responseCount = 2, failCode = (int)StatusCode.FailedPrecondition, failMessage = "Bildgröße 100% falsch\r\n✓" },
            metadata = new Dictionary<string, string> { ["x-echo-reason"] = "size" },
        });

        result.AssertStatus(StatusCode.FailedPrecondition);
        Assert.Equal("Bildgröße 100% falsch\r\n✓", result.Details);
        Assert.Equal(["size"], result.Trailers["x-trailer-reason"]);
        Assert.Equal(method == "Echo" ? 0 : 2, result.Responses.Count);
    }

    [Theory]
    [InlineData("/medfusion.test.v1.EchoService/Missing")]
    [InlineData("/no.Such/Service")]
    public async Task Unknown_method_or_service_is_unimplemented(string path)
    {
        var result = await CallAsync(new { target = fixture.OurServer.Target, method = "Raw", path });

        result.AssertStatus(StatusCode.Unimplemented);
    }

    [Fact]
    public async Task A_method_of_the_proto_that_the_service_does_not_implement_is_unimplemented()
    {
        var result = await CallAsync(new { target = fixture.OurServer.Target, method = "Observe", request = new { id = "x" } });

        result.AssertStatus(StatusCode.Unimplemented);
    }

    [Theory]
    [InlineData("v1alpha")]
    [InlineData("v1")]
    public async Task Reflection_lists_the_served_services(string version)
    {
        var result = await CallAsync(new { target = fixture.OurServer.Target, method = "ListServices", reflection = version });

        result.AssertStatus(StatusCode.OK);
        var names = result.Responses.Select(r => r["name"]!.GetValue<string>()).ToList();
        Assert.Contains("medfusion.test.v1.EchoService", names);
        Assert.Contains("grpc.health.v1.Health", names);
    }

    [Fact]
    public async Task Deadline_ends_the_call_and_cancels_the_handler_at_once()
    {
        var id = Guid.NewGuid().ToString();
        var started = DateTime.UtcNow;
        var result = await CallAsync(new { target = fixture.OurServer.Target, method = "Echo", request = new { id, delayMs = 20_000 }, deadlineMs = 300 });

        result.AssertStatus(StatusCode.DeadlineExceeded);
        var record = fixture.OurServer.Echo.Record(id);
        await record.Finished.WaitAsync(TimeSpan.FromSeconds(2));
        Assert.True(record.Cancelled);
        // grpc-js may reset the stream on its own timer a moment before our deadline passes: compare with the start.
        Assert.InRange(record.Deadline!.Value, started.AddMilliseconds(200), started.AddSeconds(5));
        Assert.InRange(result.ElapsedMs, 250, 3000);
    }

    [Fact]
    public async Task Client_cancellation_resets_the_stream_and_stops_the_handler()
    {
        var id = Guid.NewGuid().ToString();
        var result = await CallAsync(new
        {
            target = fixture.OurServer.Target,
            method = "EchoStream",
            request = new { id, responseCount = 1000, delayMs = 50 },
            cancelAfterResponses = 3,
        });

        result.AssertStatus(StatusCode.Cancelled);
        var record = fixture.OurServer.Echo.Record(id);
        await record.Finished.WaitAsync(TimeSpan.FromSeconds(2));
        Assert.True(record.Cancelled);
    }

    [Fact]
    public async Task A_request_above_the_default_64_MiB_limit_is_resource_exhausted()
    {
        var result = await CallAsync(new
        {
            target = fixture.OurServer.Target,
            method = "Echo",
            request = new { id = Guid.NewGuid().ToString() },
            payloadSize = 64 * 1024 * 1024 + 1,
            channelOptions = new Dictionary<string, int> { ["grpc.max_send_message_length"] = -1 },
        });

        result.AssertStatus(StatusCode.ResourceExhausted);
    }

    [Fact]
    public async Task A_response_above_the_server_send_limit_is_resource_exhausted()
    {
        await using var server = await OurServer.StartAsync(o => o.MaxSendMessageSize = 1024 * 1024);
        var result = await CallAsync(new
        {
            target = server.Target,
            method = "Echo",
            request = new { id = Guid.NewGuid().ToString(), responsePayloadSize = 2 * 1024 * 1024 },
        });

        result.AssertStatus(StatusCode.ResourceExhausted);
    }

    [Fact]
    public async Task Gzip_compressed_requests_and_responses_are_understood_both_ways()
    {
        await using var server = await OurServer.StartAsync(o => o.CompressResponses = true);
        await using var relay = new TcpRelay(server.Port);
        var id = Guid.NewGuid().ToString();
        var result = await CallAsync(new
        {
            target = $"127.0.0.1:{relay.Port}",
            method = "Echo",
            request = new { id, text = "zipped" },
            payloadSize = 1024 * 1024,
            compress = true,
        });

        result.AssertStatus(StatusCode.OK);
        Assert.Equal(1024 * 1024, Assert.Single(result.Responses)["payloadLength"]!.GetValue<int>());
        Assert.Equal("gzip", server.Echo.Record(id).RequestEncoding);
        Assert.InRange(relay.ClientToServerBytes, 1, 100_000); // 1 MiB of one byte value compresses to a few KiB
        Assert.InRange(relay.ServerToClientBytes, 1, 100_000);
    }

    [Fact]
    public async Task Tls_with_alpn_h2_serves_calls()
    {
        var result = await CallAsync(new
        {
            target = fixture.OurTlsServer.Target,
            method = "Echo",
            request = new { id = Guid.NewGuid().ToString(), text = "secure" },
            rootCertPem = fixture.Tls.CertificatePem,
            serverName = "localhost",
        });

        result.AssertStatus(StatusCode.OK);
        Assert.Equal("secure", Assert.Single(result.Responses)["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task Health_check_and_watch_follow_the_serving_status()
    {
        await using var server = await OurServer.StartAsync();
        const string service = "medfusion.v1.InferenceWorker";
        var unknown = await CallAsync(new { target = server.Target, method = "Check", request = new { service } });
        server.Health.SetStatus(service, ServingStatus.NotServing);
        var checkedStatus = await CallAsync(new { target = server.Target, method = "Check", request = new { service } });
        var watch = CallAsync(new { target = server.Target, method = "Watch", request = new { service }, cancelAfterResponses = 2 });
        await Task.Delay(300);
        server.Health.SetStatus(service, ServingStatus.Serving);
        var watched = await watch;

        unknown.AssertStatus(StatusCode.NotFound);
        Assert.Equal(2, Assert.Single(checkedStatus.Responses)["status"]!.GetValue<int>());
        Assert.Equal([2, 1], watched.Responses.Select(r => r["status"]!.GetValue<int>()));
        watched.AssertStatus(StatusCode.Cancelled);
    }

    [Fact]
    public async Task Server_keepalive_pings_detect_a_dead_client_and_cancel_its_call()
    {
        await using var server = await OurServer.StartAsync(o =>
        {
            o.KeepAlivePingDelay = TimeSpan.FromSeconds(1);
            o.KeepAlivePingTimeout = TimeSpan.FromSeconds(1);
        });
        await using var relay = new TcpRelay(server.Port);
        var id = Guid.NewGuid().ToString();
        _ = CallAsync(new { target = $"127.0.0.1:{relay.Port}", method = "Echo", request = new { id, delayMs = 60_000 }, deadlineMs = 30_000 });
        var record = server.Echo.Record(id);
        while (record.Peer is null)
        {
            await Task.Delay(20);
        }

        relay.Freeze();
        await record.Finished.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(record.Cancelled);
    }
}
