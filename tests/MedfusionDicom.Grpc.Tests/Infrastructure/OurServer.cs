using System.Net;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using MedfusionDicom.Grpc.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace MedfusionDicom.Grpc.Tests.Infrastructure;

/// <summary>Our GrpcServer (Grpc.AspNetCore) with the test EchoService, health and reflection, on 127.0.0.1 and a free port.</summary>
public sealed class OurServer : IAsyncDisposable
{
    private readonly GrpcServer _server;

    private OurServer(GrpcServer server)
    {
        _server = server;
        Echo = server.Services.GetRequiredService<TestEchoService>();
        Health.SetStatus("", HealthCheckResponse.Types.ServingStatus.Serving);
    }

    public TestEchoService Echo { get; }

    public HealthServiceImpl Health => _server.Health;

    public Uri Address => _server.Addresses[0];

    public int Port => Address.Port;

    public string Target => $"127.0.0.1:{Port}";

    public static async Task<OurServer> StartAsync(Action<GrpcServerOptions>? configure = null, TestCertificate? tls = null)
    {
        var options = new GrpcServerOptions();
        options.Endpoints.Add(new GrpcEndpoint(new IPEndPoint(IPAddress.Loopback, 0), tls?.Certificate));
        configure?.Invoke(options);
        var server = await GrpcServer.StartAsync(options, services => services.AddSingleton<TestEchoService>(), endpoints => endpoints.MapGrpcService<TestEchoService>());
        return new OurServer(server);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
