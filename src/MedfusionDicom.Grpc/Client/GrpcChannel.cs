using System.Net.Http;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Retry;

namespace MedfusionDicom.Grpc.Client;

/// <summary>
/// A client for one server address. It owns one connection pool, so calls share HTTP/2 connections (opening more
/// only past the server's stream limit); create one per server and keep it.
/// </summary>
public sealed class GrpcChannel : IDisposable
{
    private GrpcChannel(Uri address, GrpcChannelOptions options)
    {
        if (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps)
        {
            throw new ArgumentException($"The address must be http:// (cleartext HTTP/2) or https:// (TLS), not {address}.", nameof(address));
        }

        Address = address;
        Options = options;
        Logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<GrpcChannel>();
        Invoker = new HttpMessageInvoker(options.HttpHandler ?? CreateHandler(options), disposeHandler: true);
        RetryPipeline = CreateRetryPipeline(options, Logger);
    }

    public Uri Address { get; }

    internal GrpcChannelOptions Options { get; }

    internal HttpMessageInvoker Invoker { get; }

    internal ResiliencePipeline RetryPipeline { get; }

    internal ILogger Logger { get; }

    public static GrpcChannel ForAddress(Uri address, GrpcChannelOptions? options = null) => new(address, options ?? new GrpcChannelOptions());

    public static GrpcChannel ForAddress(string address, GrpcChannelOptions? options = null) => ForAddress(new Uri(address), options);

    /// <summary>Starts a unary or server-streaming call.</summary>
    public GrpcCall<TRequest, TResponse> StartCall<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, CallOptions? options = null)
    {
        if (method.Type is not (MethodType.Unary or MethodType.ServerStreaming))
        {
            throw new ArgumentException($"{method.FullName} is {method.Type}: start it without a request and write to the call.", nameof(method));
        }

        return new GrpcCall<TRequest, TResponse>(this, method, options ?? CallOptions.Default, request);
    }

    /// <summary>Starts a client-streaming or duplex call; write requests with <see cref="GrpcCall{TRequest,TResponse}.WriteAsync"/>.</summary>
    public GrpcCall<TRequest, TResponse> StartCall<TRequest, TResponse>(Method<TRequest, TResponse> method, CallOptions? options = null)
    {
        if (method.Type is not (MethodType.ClientStreaming or MethodType.DuplexStreaming))
        {
            throw new ArgumentException($"{method.FullName} is {method.Type}: it takes its request when it starts.", nameof(method));
        }

        return new GrpcCall<TRequest, TResponse>(this, method, options ?? CallOptions.Default, request: default, streamingRequest: true);
    }

    public async Task<TResponse> UnaryAsync<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, CallOptions? options = null)
    {
        await using var call = StartCall(method, request, options);
        return await call.ResponseAsync.ConfigureAwait(false);
    }

    public void Dispose() => Invoker.Dispose();

    private static SocketsHttpHandler CreateHandler(GrpcChannelOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            AllowAutoRedirect = false,
            UseCookies = false,
            // Workers are reached directly; an HTTP proxy from the environment cannot carry cleartext HTTP/2.
            UseProxy = false,
            KeepAlivePingDelay = options.KeepAlivePingDelay,
            KeepAlivePingTimeout = options.KeepAlivePingTimeout,
            KeepAlivePingPolicy = options.KeepAliveWithoutCalls ? HttpKeepAlivePingPolicy.Always : HttpKeepAlivePingPolicy.WithActiveRequests,
            InitialHttp2StreamWindowSize = options.InitialStreamWindowSize,
        };
        if (options.TrustedRootCertificate is { } root)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => IsIssuedBy(root, certificate, errors);
        }

        return handler;
    }

    private static bool IsIssuedBy(X509Certificate2 root, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        // Only the chain may fail the system's check: a wrong host name or a missing certificate stays fatal.
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

    private static ResiliencePipeline CreateRetryPipeline(GrpcChannelOptions options, ILogger logger)
    {
        if (options.MaxRetryAttempts <= 0)
        {
            return ResiliencePipeline.Empty;
        }

        return new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                // UNAVAILABLE before the server committed is the one failure gRPC deems safe to repeat.
                ShouldHandle = new PredicateBuilder().Handle<RpcException>(ex => ex.StatusCode == StatusCode.Unavailable),
                MaxRetryAttempts = options.MaxRetryAttempts,
                Delay = options.RetryBaseDelay,
                MaxDelay = options.RetryMaxDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                OnRetry = args =>
                {
                    var method = args.Context.Properties.GetValue(GrpcCallContext.MethodKey, "");
                    ClientLog.Retrying(logger, method, args.Outcome.Exception?.Message ?? "", args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds);
                    return default;
                },
            })
            .Build();
    }
}

internal static class GrpcCallContext
{
    public static readonly ResiliencePropertyKey<string> MethodKey = new("grpc.method");
}
