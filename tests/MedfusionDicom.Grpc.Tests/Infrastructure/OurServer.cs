using System.Net;
using Grpc.Health.V1;
using MedfusionDicom.Grpc.Health;
using MedfusionDicom.Grpc.Server;

namespace MedfusionDicom.Grpc.Tests.Infrastructure;

/// <summary>Our GrpcServer with the test EchoService and the real Health service, on 127.0.0.1 and a free port.</summary>
public sealed class OurServer : IAsyncDisposable
{
    private readonly GrpcServer server;

    private OurServer(GrpcServer server, TestEchoService echo, HealthService health)
    {
        this.server = server;
        Echo = echo;
        Health = health;
    }

    public TestEchoService Echo { get; }

    public HealthService Health { get; }

    public Uri Address => server.Addresses[0];

    public int Port => Address.Port;

    public string Target => $"127.0.0.1:{Port}";

    public static async Task<OurServer> StartAsync(Action<GrpcServerOptions>? configure = null, TestCertificate? tls = null)
    {
        var options = new GrpcServerOptions();
        options.Endpoints.Add(new GrpcEndpoint(new IPEndPoint(IPAddress.Loopback, 0), tls?.Certificate));
        configure?.Invoke(options);
        var health = new HealthService();
        health.SetStatus("", HealthCheckResponse.Types.ServingStatus.Serving);
        var echo = new TestEchoService(health);
        var server = await GrpcServer.StartAsync(options, [echo.BindService(), health.BindService()]);
        return new OurServer(server, echo, health);
    }

    public ValueTask DisposeAsync() => server.DisposeAsync();
}
