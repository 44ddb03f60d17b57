using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Grpc.Client;

public sealed class GrpcClientOptions
{
    public const int DefaultMaxMessageSize = 64 * 1024 * 1024;

    /// <summary>Larger response messages end the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxReceiveMessageSize { get; set; } = DefaultMaxMessageSize;

    /// <summary>Larger request messages end the call with RESOURCE_EXHAUSTED before anything is sent.</summary>
    public int MaxSendMessageSize { get; set; } = DefaultMaxMessageSize;

    /// <summary>Compress request messages with gzip.</summary>
    public bool CompressRequests { get; set; }

    /// <summary>Idle time after which the client pings the connection; <see cref="Timeout.InfiniteTimeSpan"/> turns pings off.</summary>
    public TimeSpan KeepAlivePingDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A ping unanswered this long closes the connection and fails its calls with UNAVAILABLE.</summary>
    public TimeSpan KeepAlivePingTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Ping also while no call is open (keeps an idle connection to a worker known to be alive).</summary>
    public bool KeepAliveWithoutCalls { get; set; }

    /// <summary>
    /// Retries of calls that failed with UNAVAILABLE before the server committed to them (connection refused, an
    /// UNAVAILABLE answer before any response); no other status is ever retried. 0 turns retries off. At most 4
    /// (Grpc.Net.Client allows 5 attempts).
    /// </summary>
    public int MaxRetryAttempts { get; set; } = 3;

    /// <summary>The first retry's delay; later ones back off exponentially (doubling, with jitter) up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>For https addresses: trust server certificates issued by this root (a private CA or a self-signed certificate).</summary>
    public X509Certificate2? TrustedRootCertificate { get; set; }

    /// <summary>The HTTP/2 receive window of each stream; large so that 16 MiB replies need few window updates.</summary>
    public int InitialStreamWindowSize { get; set; } = 8 * 1024 * 1024;

    /// <summary>How long opening a connection may take before the attempt fails as UNAVAILABLE.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public ILoggerFactory? LoggerFactory { get; set; }
}
