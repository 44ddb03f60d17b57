using Google.Protobuf;
using Grpc.Core;
using MedfusionDicom.Grpc.Client;
using MedfusionDicom.Grpc.Tests.Echo;
using MedfusionDicom.Grpc.Tests.Infrastructure;

namespace MedfusionDicom.Grpc.Tests;

/// <summary>Both ends ours (Grpc.Net.Client through GrpcClientChannel, Grpc.AspNetCore through GrpcServer): the gateway-to-worker path.</summary>
public sealed class OurClientToOurServerTests : IAsyncLifetime
{
    private OurServer _server = null!;
    private GrpcClientChannel _channel = null!;

    private EchoService.EchoServiceClient Echo => new(_channel.CallInvoker);

    public async Task InitializeAsync()
    {
        _server = await OurServer.StartAsync(o => o.CompressResponses = true);
        _channel = GrpcClientChannel.ForAddress(_server.Address, new GrpcClientOptions { CompressRequests = true });
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Compressed_16_MiB_messages_round_trip_both_ways()
    {
        var id = Guid.NewGuid().ToString();
        var payload = ByteString.CopyFrom(Enumerable.Range(0, 16 * 1024 * 1024).Select(i => (byte)(i % 13)).ToArray());

        var response = await Echo.EchoAsync(new EchoRequest { Id = id, Payload = payload });

        Assert.Equal(payload, response.Payload);
        Assert.Equal("gzip", _server.Echo.Record(id).RequestEncoding);
    }

    [Fact]
    public async Task Deadline_reaches_the_handler_and_ends_the_call()
    {
        var id = Guid.NewGuid().ToString();
        var started = DateTime.UtcNow;
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await Echo.EchoAsync(new EchoRequest { Id = id, DelayMs = 20_000 }, deadline: DateTime.UtcNow.AddMilliseconds(300)));

        var record = _server.Echo.Record(id);
        await record.Finished.WaitAsync(TimeSpan.FromSeconds(2));
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.True(record.Cancelled);
        // The client's own timer may fire (and reset the stream) a moment before the server's deadline passes,
        // so the deadline is checked against when the call started, not against now.
        Assert.InRange(record.Deadline!.Value, started.AddMilliseconds(200), started.AddSeconds(3));
    }

    [Fact]
    public async Task Disposing_an_unfinished_call_cancels_it_on_the_server()
    {
        var id = Guid.NewGuid().ToString();
        var call = Echo.EchoStream(new EchoRequest { Id = id, ResponseCount = 100, DelayMs = 50 });
        using (call)
        {
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        }

        var record = _server.Echo.Record(id);
        await record.Finished.WaitAsync(TimeSpan.FromSeconds(2));
        Assert.True(record.Cancelled);
        Assert.Equal(StatusCode.Cancelled, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Request_metadata_reaches_the_handler()
    {
        var id = Guid.NewGuid().ToString();
        var headers = new Metadata { { "x-study-uid", "1.2.840.1" }, { "x-token-bin", new byte[] { 9, 8, 7 } } };

        await Echo.EchoAsync(new EchoRequest { Id = id }, headers);

        var seen = _server.Echo.Record(id).RequestHeaders!;
        Assert.Equal("1.2.840.1", seen.GetValue("x-study-uid"));
        Assert.Equal([9, 8, 7], seen.GetValueBytes("x-token-bin"));
        Assert.DoesNotContain(seen, e => e.Key.StartsWith("grpc-", StringComparison.Ordinal) || e.Key == "content-type" || e.Key == "te");
    }

    [Fact]
    public async Task Every_call_carries_a_request_id_and_keeps_the_callers_own()
    {
        var given = Guid.NewGuid().ToString();
        var made = Guid.NewGuid().ToString();
        var shared = new Metadata { { "x-study-uid", "1.2.3" } };

        await Echo.EchoAsync(new EchoRequest { Id = given }, new Metadata { { RequestIds.HeaderName, "my-id-1" } });
        await Echo.EchoAsync(new EchoRequest { Id = made }, shared);
        await Echo.EchoAsync(new EchoRequest { Id = Guid.NewGuid().ToString() }, shared);

        Assert.Equal("my-id-1", _server.Echo.Record(given).RequestHeaders!.GetValue(RequestIds.HeaderName));
        Assert.Matches("^[0-9a-f]{12}$", _server.Echo.Record(made).RequestHeaders!.GetValue(RequestIds.HeaderName));
        Assert.Null(shared.Get(RequestIds.HeaderName)); // the caller's Metadata is not changed, so each call gets its own id
    }

    [Fact]
    public async Task An_unexpected_handler_exception_is_internal_with_the_request_id_and_no_internals()
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await Echo.EchoAsync(new EchoRequest { Id = Guid.NewGuid().ToString(), ThrowUnexpected = true }, new Metadata { { RequestIds.HeaderName, "req-42" } }));

        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Contains("req-42", error.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("/srv/secret", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_detailed_errors_on_an_unexpected_exception_names_itself()
    {
        await using var detailed = await OurServer.StartAsync(o => o.IncludeExceptionDetails = true);
        using var channel = GrpcClientChannel.ForAddress(detailed.Address);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await new EchoService.EchoServiceClient(channel.CallInvoker).EchoAsync(new EchoRequest { ThrowUnexpected = true }));

        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Contains("InvalidOperationException", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Several_addresses_share_the_calls_round_robin_and_skip_one_that_is_down()
    {
        await using var second = await OurServer.StartAsync();
        await using var third = await OurServer.StartAsync();
        var thirdAddress = third.Address;
        await third.DisposeAsync(); // a worker that is down
        using var pool = GrpcClientChannel.ForAddresses([_server.Address, second.Address, thirdAddress]);
        var client = new EchoService.EchoServiceClient(pool.CallInvoker);

        var ids = Enumerable.Range(0, 30).Select(_ => Guid.NewGuid().ToString()).ToList();
        foreach (var id in ids)
        {
            await client.EchoAsync(new EchoRequest { Id = id }, deadline: DateTime.UtcNow.AddSeconds(10));
        }

        var onFirst = ids.Count(id => _server.Echo.Record(id).Peer is not null);
        var onSecond = ids.Count(id => second.Echo.Record(id).Peer is not null);
        Assert.Equal(30, onFirst + onSecond);
        Assert.InRange(onFirst, 10, 20);
        Assert.InRange(onSecond, 10, 20);
    }

    [Fact]
    public void Addresses_of_mixed_schemes_are_refused()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            GrpcClientChannel.ForAddresses([new Uri("http://127.0.0.1:1"), new Uri("https://127.0.0.1:2")]));

        Assert.Contains("all be http://", error.Message, StringComparison.Ordinal);
    }
}
