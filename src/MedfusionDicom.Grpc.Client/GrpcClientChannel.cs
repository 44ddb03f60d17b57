using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using MedfusionDicom.Grpc.Interceptors;
using Microsoft.Extensions.DependencyInjection;

namespace MedfusionDicom.Grpc.Client;

/// <summary>
/// A Grpc.Net.Client channel to one server, or to several that serve the same thing (calls are spread round robin and
/// move away from one that is down). It owns its connections, so calls share them: create one per destination and
/// keep it. Make clients from <see cref="CallInvoker"/>: <c>new InferenceWorker.InferenceWorkerClient(channel.CallInvoker)</c>.
/// </summary>
public sealed class GrpcClientChannel : IDisposable
{
    private readonly ServiceProvider? _balancerServices;

    private GrpcClientChannel(GrpcChannel channel, IReadOnlyList<Uri> addresses, GrpcClientOptions options, ServiceProvider? balancerServices = null)
    {
        _balancerServices = balancerServices;
        Channel = channel;
        Addresses = addresses;
        CallInvoker = channel.Intercept(new TransportErrorInterceptor()).Intercept(new RequestHeadersInterceptor(options.CompressRequests));
    }

    public IReadOnlyList<Uri> Addresses { get; }

    /// <summary>The underlying channel (its state, or clients that must bypass our interceptors).</summary>
    public GrpcChannel Channel { get; }

    public CallInvoker CallInvoker { get; }

    public static GrpcClientChannel ForAddress(string address, GrpcClientOptions? options = null) => ForAddresses([new Uri(address)], options);

    public static GrpcClientChannel ForAddress(Uri address, GrpcClientOptions? options = null) => ForAddresses([address], options);

    /// <summary>All addresses must be http:// (cleartext HTTP/2 with prior knowledge) or all https:// (TLS, ALPN h2).</summary>
    public static GrpcClientChannel ForAddresses(IReadOnlyList<Uri> addresses, GrpcClientOptions? options = null)
    {
        options ??= new GrpcClientOptions();
        if (addresses.Count == 0)
        {
            throw new ArgumentException("A channel needs at least one address.", nameof(addresses));
        }

        var schemes = addresses.Select(a => a.Scheme).Distinct(StringComparer.Ordinal).ToList();
        if (schemes is not [var scheme] || (scheme != Uri.UriSchemeHttp && scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException(
                $"Addresses must all be http:// (cleartext HTTP/2) or all https:// (TLS); got {string.Join(", ", addresses)}.", nameof(addresses));
        }

        if (options.MaxRetryAttempts is < 0 or > 4)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxRetryAttempts, "MaxRetryAttempts must be 0..4.");
        }

        var channelOptions = new GrpcChannelOptions
        {
            HttpHandler = CreateHandler(options),
            MaxReceiveMessageSize = options.MaxReceiveMessageSize,
            MaxSendMessageSize = options.MaxSendMessageSize,
            LoggerFactory = options.LoggerFactory,
            ServiceConfig = CreateServiceConfig(options, roundRobin: addresses.Count > 1),
            MaxRetryAttempts = options.MaxRetryAttempts + 1,
        };

        if (addresses.Count == 1)
        {
            return new GrpcClientChannel(GrpcChannel.ForAddress(addresses[0], channelOptions), addresses, options);
        }

        // Several addresses: a static resolver hands them all to the round-robin balancer, one subchannel each.
        var services = new ServiceCollection();
        services.AddSingleton<ResolverFactory>(new StaticResolverFactory(_ => addresses.Select(a => new BalancerAddress(a.Host, a.Port))));
        var provider = services.BuildServiceProvider();
        channelOptions.ServiceProvider = provider;
        channelOptions.Credentials = scheme == Uri.UriSchemeHttps ? ChannelCredentials.SecureSsl : ChannelCredentials.Insecure;
        return new GrpcClientChannel(GrpcChannel.ForAddress("static:///servers", channelOptions), addresses, options, provider);
    }

    public void Dispose()
    {
        Channel.Dispose();
        _balancerServices?.Dispose();
    }

    private static ServiceConfig CreateServiceConfig(GrpcClientOptions options, bool roundRobin)
    {
        var config = new ServiceConfig();
        if (roundRobin)
        {
            config.LoadBalancingConfigs.Add(new RoundRobinConfig());
        }

        if (options.MaxRetryAttempts > 0)
        {
            config.MethodConfigs.Add(new MethodConfig
            {
                Names = { MethodName.Default },
                RetryPolicy = new RetryPolicy
                {
                    MaxAttempts = options.MaxRetryAttempts + 1,
                    InitialBackoff = options.RetryBaseDelay,
                    MaxBackoff = options.RetryMaxDelay,
                    BackoffMultiplier = 2,
                    RetryableStatusCodes = { StatusCode.Unavailable },
                },
            });
        }

        return config;
    }

    private static SocketsHttpHandler CreateHandler(GrpcClientOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            AllowAutoRedirect = false,
            UseCookies = false,
            // Workers are reached directly; an HTTP proxy from the environment cannot carry cleartext HTTP/2.
            UseProxy = false,
            ConnectTimeout = options.ConnectTimeout,
            InitialHttp2StreamWindowSize = options.InitialStreamWindowSize,
            KeepAlivePingDelay = options.KeepAlivePingDelay,
            KeepAlivePingTimeout = options.KeepAlivePingTimeout,
            KeepAlivePingPolicy = options.KeepAliveWithoutCalls ? HttpKeepAlivePingPolicy.Always : HttpKeepAlivePingPolicy.WithActiveRequests,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        };
        if (options.TrustedRootCertificate is { } root)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => IsIssuedBy(root, certificate, errors);
        }

        return handler;
    }

    /// <summary>Name mismatches and other errors still fail; only an untrusted chain is checked against the private root.</summary>
    private static bool IsIssuedBy(X509Certificate2 root, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }
}
