using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using Grpc.Core;
using MedfusionDicom.Grpc.Hosting;
using MedfusionDicom.Grpc.Tests.Echo;
using MedfusionDicom.Grpc.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace MedfusionDicom.Grpc.Tests;

/// <summary>Our server (Grpc.AspNetCore as GrpcServer sets it up) against hand-made HTTP/2 requests: what no well-behaved client sends must still get a proper gRPC answer.</summary>
public sealed class ServerProtocolTests : IAsyncLifetime
{
    private const string EchoPath = "/medfusion.test.v1.EchoService/Echo";

    private static readonly byte[] ValidEcho = Frame(0, new EchoRequest { Text = "ok" }.ToByteArray());

    private readonly HttpClient http = new(new SocketsHttpHandler { UseProxy = false });
    private OurServer server = null!;

    public async Task InitializeAsync() => server = await OurServer.StartAsync(o => o.MaxReceiveMessageSize = 1024 * 1024);

    public async Task DisposeAsync()
    {
        http.Dispose();
        await server.DisposeAsync();
    }

    // A message that cannot be read (bad flag, bad gzip, not protobuf) is UNKNOWN from Grpc.AspNetCore: it fails
    // while reading the request, before any handler or interceptor of ours runs.
    public static TheoryData<string, string, byte[], string?, string?, StatusCode> MalformedCalls() => new()
    {
        { "unknown method", "/medfusion.test.v1.EchoService/Nope", ValidEcho, null, null, StatusCode.Unimplemented },
        { "unknown service", "/no.Such/Service", ValidEcho, null, null, StatusCode.Unimplemented },
        // Grpc.AspNetCore ignores a grpc-timeout it cannot parse (and logs it): the call runs without a deadline.
        { "malformed grpc-timeout", EchoPath, ValidEcho, "grpc-timeout", "soon", StatusCode.OK },
        { "unsupported grpc-encoding", EchoPath, Frame(1, [0x12, 0x00]), "grpc-encoding", "snappy", StatusCode.Unimplemented },
        { "unsupported grpc-encoding, message not compressed", EchoPath, ValidEcho, "grpc-encoding", "snappy", StatusCode.OK },
        { "compressed flag 2", EchoPath, Frame(2, [0x12, 0x00]), null, null, StatusCode.Unknown },
        { "compressed without grpc-encoding", EchoPath, Frame(1, [0x12, 0x00]), null, null, StatusCode.Internal },
        { "invalid gzip", EchoPath, Frame(1, [1, 2, 3, 4]), "grpc-encoding", "gzip", StatusCode.Unknown },
        { "truncated message", EchoPath, Frame(0, new byte[100])[..20], null, null, StatusCode.Internal },
        { "truncated prefix", EchoPath, [0, 0, 0], null, null, StatusCode.Internal },
        { "no message", EchoPath, [], null, null, StatusCode.Internal },
        { "two messages for unary", EchoPath, [.. ValidEcho, .. ValidEcho], null, null, StatusCode.Internal },
        { "not protobuf", EchoPath, Frame(0, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF]), null, null, StatusCode.Unknown },
        { "length above the limit", EchoPath, [0, 0x7F, 0xFF, 0xFF, 0xFF], null, null, StatusCode.ResourceExhausted },
        { "gzip bomb above the limit", EchoPath, Frame(1, Gzip(new EchoRequest { Payload = ByteString.CopyFrom(new byte[4 * 1024 * 1024]) }.ToByteArray())), "grpc-encoding", "gzip", StatusCode.ResourceExhausted },
    };

    [Theory]
    [MemberData(nameof(MalformedCalls))]
    public async Task Malformed_calls_get_a_status_and_the_server_keeps_serving(
        string description, string path, byte[] body, string? header, string? headerValue, StatusCode expected)
    {
        using var response = await PostAsync(path, body, request =>
        {
            if (header is not null)
            {
                request.Headers.TryAddWithoutValidation(header, headerValue);
            }
        });
        var status = await ReadStatusAsync(response);
        using var healthy = await PostAsync(EchoPath, ValidEcho);

        Assert.True(status == expected, $"{description}: expected {expected}, got {status}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(StatusCode.OK, await ReadStatusAsync(healthy));
    }

    [Fact]
    public async Task Immediate_errors_are_trailers_only()
    {
        using var response = await PostAsync("/no.Such/Service", ValidEcho);
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal("12", Assert.Single(response.Headers.GetValues("grpc-status")));
        Assert.Empty(body);
        Assert.Empty(response.TrailingHeaders);
    }

    [Fact]
    public async Task A_content_type_other_than_grpc_is_415()
    {
        using var response = await PostAsync(EchoPath, ValidEcho, request =>
            request.Content!.Headers.ContentType = new MediaTypeHeaderValue("application/json"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("13", Assert.Single(response.Headers.GetValues("grpc-status")));
    }

    [Fact]
    public async Task A_method_other_than_post_is_not_served()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(server.Address, EchoPath)) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode); // Grpc.AspNetCore maps POST only
    }

    [Fact]
    public async Task Grpc_content_type_with_a_subtype_is_accepted()
    {
        using var response = await PostAsync(EchoPath, ValidEcho, request =>
            request.Content!.Headers.ContentType = new MediaTypeHeaderValue("application/grpc+proto"));

        Assert.Equal(StatusCode.OK, await ReadStatusAsync(response));
    }

    /// <summary>Waits out its delay whatever happens to the call.</summary>
    private sealed class StubbornEcho : EchoService.EchoServiceBase
    {
        public TaskCompletionSource HandlerDone { get; } = new();

        public override async Task<EchoResponse> Echo(EchoRequest request, ServerCallContext context)
        {
            await Task.Delay(3000, CancellationToken.None);
            HandlerDone.SetResult();
            return new EchoResponse();
        }
    }

    [Fact]
    public async Task A_passed_deadline_ends_the_response_even_when_the_handler_ignores_cancellation()
    {
        var stubborn = new StubbornEcho();
        var options = new GrpcServerOptions();
        options.Endpoints.Add(new GrpcEndpoint(new IPEndPoint(IPAddress.Loopback, 0)));
        await using var stubbornServer = await GrpcServer.StartAsync(options, services => services.AddSingleton(stubborn), endpoints => endpoints.MapGrpcService<StubbornEcho>());

        var started = DateTime.UtcNow;
        using var request = CreateRequest(new Uri(stubbornServer.Addresses[0], EchoPath), ValidEcho);
        request.Headers.TryAddWithoutValidation("grpc-timeout", "200m");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var status = await ReadStatusAsync(response);

        Assert.Equal(StatusCode.DeadlineExceeded, status);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(2));
        Assert.False(stubborn.HandlerDone.Task.IsCompleted);
    }

    private async Task<HttpResponseMessage> PostAsync(string path, byte[] body, Action<HttpRequestMessage>? configure = null)
    {
        using var request = CreateRequest(new Uri(server.Address, path), body);
        configure?.Invoke(request);
        return await http.SendAsync(request);
    }

    private static HttpRequestMessage CreateRequest(Uri uri, byte[] body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, uri)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        return request;
    }

    /// <summary>grpc-status from the trailers, or from the headers of a Trailers-Only response.</summary>
    private static async Task<StatusCode> ReadStatusAsync(HttpResponseMessage response)
    {
        await response.Content.ReadAsByteArrayAsync();
        var source = response.TrailingHeaders.Contains("grpc-status") ? (HttpHeaders)response.TrailingHeaders : response.Headers;
        return (StatusCode)int.Parse(source.GetValues("grpc-status").Single(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static byte[] Frame(byte flag, byte[] payload)
    {
        var frame = new byte[5 + payload.Length];
        frame[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame, 5);
        return frame;
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }
}
