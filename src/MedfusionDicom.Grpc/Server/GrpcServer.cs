using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedfusionDicom.Grpc.Server;

/// <summary>A Kestrel host that serves only gRPC: HTTP/2 only, on the configured endpoints.</summary>
public sealed class GrpcServer : IAsyncDisposable
{
    private readonly WebApplication app;

    private GrpcServer(WebApplication app, IReadOnlyList<Uri> addresses)
    {
        this.app = app;
        Addresses = addresses;
    }

    /// <summary>The bound addresses, with the real ports when port 0 was asked for ("http://127.0.0.1:40123").</summary>
    public IReadOnlyList<Uri> Addresses { get; }

    public static async Task<GrpcServer> StartAsync(
        GrpcServerOptions options, IEnumerable<ServiceDefinition> services, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        if (options.Endpoints.Count == 0)
        {
            throw new ArgumentException("The server needs at least one endpoint.", nameof(options));
        }

        loggerFactory ??= NullLoggerFactory.Instance;
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel => ConfigureKestrel(kestrel, options));
        var app = builder.Build();
        var dispatcher = new GrpcRequestDispatcher(services, options, loggerFactory.CreateLogger<GrpcRequestDispatcher>());
        app.Run(dispatcher.HandleAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);

        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses
            .Select(a => new Uri(a))
            .ToList();
        var logger = loggerFactory.CreateLogger<GrpcServer>();
        foreach (var address in addresses)
        {
            ServerLog.Listening(logger, address.ToString());
        }

        return new GrpcServer(app, addresses);
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
        await app.StopAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
    }
}
