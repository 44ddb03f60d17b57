using Google.Protobuf;
using MedfusionDicom.Grpc.Client;
using MedfusionDicom.Grpc.Tests.Echo;
using MedfusionDicom.Grpc.Tests.Infrastructure;

namespace MedfusionDicom.Grpc.Tests;

/// <summary>Both ends ours: the gateway-to-worker path.</summary>
public sealed class OurClientToOurServerTests : IAsyncLifetime
{
    private OurServer server = null!;
    private GrpcChannel channel = null!;

    public async Task InitializeAsync()
    {
        server = await OurServer.StartAsync(o => o.CompressResponses = true);
        channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { CompressRequests = true });
    }

    public async Task DisposeAsync()
    {
        channel.Dispose();
        await server.DisposeAsync();
    }

    [Fact]
    public async Task Compressed_16_MiB_messages_round_trip_both_ways()
    {
        var id = Guid.NewGuid().ToString();
        var payload = ByteString.CopyFrom(Enumerable.Range(0, 16 * 1024 * 1024).Select(i => (byte)(i % 13)).ToArray());

        var response = await channel.UnaryAsync(EchoMethods.Echo, new EchoRequest { Id = id, Payload = payload });

        Assert.Equal(payload, response.Payload);
        Assert.Equal("gzip", server.Echo.Record(id).RequestEncoding);
    }

    [Fact]
    public async Task Deadline_reaches_the_handler_and_ends_the_call()
    {
        var id = Guid.NewGuid().ToString();
        var started = DateTime.UtcNow;
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync(EchoMethods.Echo, new EchoRequest { Id = id, DelayMs = 20_000 }, CallOptions.WithTimeout(TimeSpan.FromMilliseconds(300))));

        var record = server.Echo.Record(id);
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
        var call = channel.StartCall(EchoMethods.EchoStream, new EchoRequest { Id = id, ResponseCount = 100, DelayMs = 50 });
        await using (call)
        {
            await using var responses = call.ReadAllAsync().GetAsyncEnumerator();
            Assert.True(await responses.MoveNextAsync());
        }

        var record = server.Echo.Record(id);
        await record.Finished.WaitAsync(TimeSpan.FromSeconds(2));
        Assert.True(record.Cancelled);
        Assert.Equal(StatusCode.Cancelled, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Request_metadata_reaches_the_handler()
    {
        var id = Guid.NewGuid().ToString();
        var headers = new Metadata().Add("x-study-uid", "1.2.840.1").Add("x-token-bin", [9, 8, 7]);

        await channel.UnaryAsync(EchoMethods.Echo, new EchoRequest { Id = id }, new CallOptions { Headers = headers });

        var seen = server.Echo.Record(id).RequestHeaders!;
        Assert.Equal("1.2.840.1", seen.GetValue("x-study-uid"));
        Assert.Equal([9, 8, 7], seen.GetValueBytes("x-token-bin"));
        Assert.DoesNotContain(seen, e => e.Key.StartsWith("grpc-", StringComparison.Ordinal) || e.Key == "content-type" || e.Key == "te");
    }
}
