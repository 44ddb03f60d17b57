using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using MedfusionDicom.Grpc.Server;
using MedfusionDicom.Grpc.Tests.Echo;
using MedfusionDicom.Grpc.Tests.Infrastructure;

namespace MedfusionDicom.Grpc.Tests;

/// <summary>Our server against hand-made HTTP/2 requests: what no well-behaved client sends must still get a proper gRPC answer.</summary>
public sealed class ServerProtocolTests : IAsyncLifetime
{
    private static readonly byte[] ValidEcho = Frame(0, new EchoRequest { Text = "ok" }.ToByteArray());

    private readonly HttpClient http = new(new SocketsHttpHandler { UseProxy = false });
    private OurServer server = null!;

    public async Task InitializeAsync() => server = await OurServer.StartAsync(o => o.MaxReceiveMessageSize = 1024 * 1024);

    public async Task DisposeAsync()
    {
        http.Dispose();
        await server.DisposeAsync();
    }

    public static TheoryData<string, string, byte[], string?, string?, StatusCode> MalformedCalls() => new()
    {
        { "unknown method", "/medfusion.test.v1.EchoService/Nope", ValidEcho, null, null, StatusCode.Unimplemented },
        { "unknown service", "/no.Such/Service", ValidEcho, null, null, StatusCode.Unimplemented },
        { "malformed grpc-timeout", EchoMethods.Echo.FullName, ValidEcho, "grpc-timeout", "soon", StatusCode.Internal },
        { "unsupported grpc-encoding", EchoMethods.Echo.FullName, ValidEcho, "grpc-encoding", "snappy", StatusCode.Unimplemented },
        { "compressed flag 2", EchoMethods.Echo.FullName, Frame(2, [0x12, 0x00]), null, null, StatusCode.Internal },
        { "compressed without grpc-encoding", EchoMethods.Echo.FullName, Frame(1, [0x12, 0x00]), null, null, StatusCode.Internal },
        { "invalid gzip", EchoMethods.Echo.FullName, Frame(1, [1, 2, 3, 4]), "grpc-encoding", "gzip", StatusCode.Internal },
        { "truncated message", EchoMethods.Echo.FullName, Frame(0, new byte[100])[..20], null, null, StatusCode.Internal },
        { "truncated prefix", EchoMethods.Echo.FullName, [0, 0, 0], null, null, StatusCode.Internal },
        { "no message", EchoMethods.Echo.FullName, [], null, null, StatusCode.Internal },
        { "two messages for unary", EchoMethods.Echo.FullName, [.. ValidEcho, .. ValidEcho], null, null, StatusCode.Internal },
        { "not protobuf", EchoMethods.Echo.FullName, Frame(0, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF]), null, null, StatusCode.Internal },
        { "length above the limit", EchoMethods.Echo.FullName, [0, 0x7F, 0xFF, 0xFF, 0xFF], null, null, StatusCode.ResourceExhausted },
        { "gzip bomb above the limit", EchoMethods.Echo.FullName, Frame(1, Gzip(new EchoRequest { Payload = ByteString.CopyFrom(new byte[4 * 1024 * 1024]) }.ToByteArray())), "grpc-encoding", "gzip", StatusCode.ResourceExhausted },
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
        using var healthy = await PostAsync(EchoMethods.Echo.FullName, ValidEcho);

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
        using var response = await PostAsync(EchoMethods.Echo.FullName, ValidEcho, request =>
            request.Content!.Headers.ContentType = new MediaTypeHeaderValue("application/json"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("13", Assert.Single(response.Headers.GetValues("grpc-status")));
    }

    [Fact]
    public async Task A_method_other_than_post_is_405()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(server.Address, EchoMethods.Echo.FullName)) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
    }

    [Fact]
    public async Task Grpc_content_type_with_a_subtype_is_accepted()
    {
        using var response = await PostAsync(EchoMethods.Echo.FullName, ValidEcho, request =>
            request.Content!.Headers.ContentType = new MediaTypeHeaderValue("application/grpc+proto"));

        Assert.Equal(StatusCode.OK, await ReadStatusAsync(response));
    }

    [Fact]
    public async Task A_passed_deadline_ends_the_response_even_when_the_handler_ignores_cancellation()
    {
        var stubborn = new Method<EchoRequest, EchoResponse>(MethodType.Unary, "test.Stubborn", "Wait", Marshallers.Create(EchoRequest.Parser), Marshallers.Create(EchoResponse.Parser));
        var handlerDone = new TaskCompletionSource();
        var definition = ServiceDefinition.CreateBuilder("test.Stubborn").AddUnary(stubborn, async (_, _) =>
        {
            await Task.Delay(3000, CancellationToken.None);
            handlerDone.SetResult();
            return new EchoResponse();
        }).Build();
        var options = new GrpcServerOptions();
        options.Endpoints.Add(new GrpcEndpoint(new IPEndPoint(IPAddress.Loopback, 0)));
        await using var stubbornServer = await GrpcServer.StartAsync(options, [definition]);

        var started = DateTime.UtcNow;
        using var request = CreateRequest(new Uri(stubbornServer.Addresses[0], stubborn.FullName), ValidEcho);
        request.Headers.TryAddWithoutValidation("grpc-timeout", "200m");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var status = await ReadStatusAsync(response);

        Assert.Equal(StatusCode.DeadlineExceeded, status);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(2));
        Assert.False(handlerDone.Task.IsCompleted);
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
