namespace MedfusionDicom.Grpc.Client;

public sealed record CallOptions
{
    public static readonly CallOptions Default = new();

    /// <summary>Custom request headers ("-bin" keys carry bytes).</summary>
    public Metadata? Headers { get; init; }

    /// <summary>UTC time after which the call fails with DEADLINE_EXCEEDED; sent to the server as grpc-timeout.</summary>
    public DateTime? Deadline { get; init; }

    /// <summary>Cancelling ends the call with CANCELLED and resets the HTTP/2 stream, which cancels the server's work.</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>Overrides <see cref="GrpcChannelOptions.CompressRequests"/> for this call.</summary>
    public bool? CompressRequest { get; init; }

    public static CallOptions WithTimeout(TimeSpan timeout) => new() { Deadline = DateTime.UtcNow + timeout };
}
