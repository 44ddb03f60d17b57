using Grpc.AspNetCore.Server;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using MedfusionDicom.Grpc.Interceptors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedfusionDicom.Grpc.Hosting;

/// <summary>
/// A Kestrel host that serves only gRPC (Grpc.AspNetCore): the caller's services, grpc.health.v1.Health
/// (<see cref="Health"/>; every service starts unknown, so Check answers NOT_FOUND until its owner sets a status) and
/// server reflection, so that grpcurl-style tools can list what is served.
/// </summary>
public sealed class GrpcServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GrpcServer(WebApplication app, IReadOnlyList<Uri> addresses)
    {
        _app = app;
        Addresses = addresses;
    }

    /// <summary>The bound addresses, with the real ports when port 0 was asked for ("http://127.0.0.1:40123").</summary>
    public IReadOnlyList<Uri> Addresses { get; }

    /// <summary>Sets what Check and Watch answer for each service ("" is the whole server).</summary>
    public HealthServiceImpl Health => _app.Services.GetRequiredService<HealthServiceImpl>();

    /// <summary>The host's services (the singletons the caller registered).</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>Starts serving: <paramref name="addServices"/> registers the service implementations, <paramref name="mapServices"/> maps them (MapGrpcService).</summary>
    public static async Task<GrpcServer> StartAsync(
        GrpcServerOptions options,
        Action<IServiceCollection> addServices,
        Action<IEndpointRouteBuilder> mapServices,
        ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default)
    {
        if (options.Endpoints.Count == 0)
        {
            throw new ArgumentException("The server needs at least one endpoint.", nameof(options));
        }

        loggerFactory ??= NullLoggerFactory.Instance;
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        builder.Services.AddRouting();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel => ConfigureKestrel(kestrel, options));
        AddGrpc(builder.Services, options);
        addServices(builder.Services);
        var app = builder.Build();
        app.UseRouting();
        MapGrpc(app);
        mapServices(app);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);

        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses
            .Select(a => new Uri(a))
            .ToList();
        var logger = loggerFactory.CreateLogger<GrpcServer>();
        foreach (var address in addresses)
        {
            HostingLog.Listening(logger, address.ToString());
        }

        return new GrpcServer(app, addresses);
    }

    /// <summary>Grpc.AspNetCore with our limits, compression and error interceptor, health and reflection; for hosts with their own builder.</summary>
    public static IGrpcServerBuilder AddGrpc(IServiceCollection services, GrpcServerOptions options)
    {
        services.AddSingleton<HealthServiceImpl>();
        services.AddGrpcReflection();
        return services.AddGrpc(grpc =>
        {
            grpc.MaxReceiveMessageSize = options.MaxReceiveMessageSize;
            grpc.MaxSendMessageSize = options.MaxSendMessageSize;
            grpc.EnableDetailedErrors = options.IncludeExceptionDetails;
            grpc.ResponseCompressionAlgorithm = options.CompressResponses ? "gzip" : null;
            grpc.Interceptors.Add<ServerErrorInterceptor>();
        });
    }

    /// <summary>Maps the health and reflection services that <see cref="AddGrpc"/> registered.</summary>
    public static void MapGrpc(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<HealthServiceImpl>();
        endpoints.MapGrpcReflectionService();
    }

    /// <summary>The Kestrel settings gRPC needs; public so that a host with its own Kestrel can apply them.</summary>
    public static void ConfigureKestrel(KestrelServerOptions kestrel, GrpcServerOptions options)
    {
        kestrel.AddServerHeader = false;
        var limits = kestrel.Limits;
        limits.MaxRequestBodySize = null;
        // Streams may idle between messages (progress updates, client streams); Kestrel's minimum data rates would cut them.
        limits.MinRequestBodyDataRate = null;
        limits.MinResponseDataRate = null;
        limits.Http2.InitialConnectionWindowSize = options.InitialConnectionWindowSize;
        limits.Http2.InitialStreamWindowSize = options.InitialStreamWindowSize;
        limits.Http2.KeepAlivePingDelay = options.KeepAlivePingDelay;
        limits.Http2.KeepAlivePingTimeout = options.KeepAlivePingTimeout;
        foreach (var endpoint in options.Endpoints)
        {
            kestrel.Listen(endpoint.EndPoint, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                if (endpoint.Certificate is not null)
                {
                    listen.UseHttps(endpoint.Certificate);
                }
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
