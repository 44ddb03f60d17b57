using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace MedfusionDicom.Grpc.Hosting;

/// <summary>Where the server listens: cleartext HTTP/2 with prior knowledge, or TLS with ALPN h2 when a certificate is given.</summary>
public sealed record GrpcEndpoint(IPEndPoint EndPoint, X509Certificate2? Certificate = null);

public sealed class GrpcServerOptions
{
    public const int DefaultMaxMessageSize = 64 * 1024 * 1024;

    public List<GrpcEndpoint> Endpoints { get; } = [];

    /// <summary>Larger request messages (after decompression) end the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxReceiveMessageSize { get; set; } = DefaultMaxMessageSize;

    /// <summary>Larger response messages end the call with RESOURCE_EXHAUSTED instead of being sent.</summary>
    public int MaxSendMessageSize { get; set; } = DefaultMaxMessageSize;

    /// <summary>Compress response messages with gzip for clients that accept it (grpc-accept-encoding).</summary>
    public bool CompressResponses { get; set; }

    /// <summary>Idle time after which the server pings a connection; <see cref="Timeout.InfiniteTimeSpan"/> turns pings off.</summary>
    public TimeSpan KeepAlivePingDelay { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long the server waits for a ping's answer before it closes the connection and cancels its calls.</summary>
    public TimeSpan KeepAlivePingTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Sends exception messages of failing handlers to clients (off: they only reach the log).</summary>
    public bool IncludeExceptionDetails { get; set; }

    /// <summary>
    /// HTTP/2 flow-control windows the server grants its clients. Larger than Kestrel's defaults so one stream can
    /// carry a 16 MiB image without waiting for a round trip every few hundred KiB.
    /// </summary>
    public int InitialConnectionWindowSize { get; set; } = 16 * 1024 * 1024;

    public int InitialStreamWindowSize { get; set; } = 8 * 1024 * 1024;
}
