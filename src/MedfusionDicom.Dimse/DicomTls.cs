using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace MedfusionDicom.Dimse;

/// <summary>
/// DICOM TLS (PS3.15 Annex B) for either role. Peers are validated against the system store, or, when
/// <see cref="TrustedCertificates"/> is set, only against those certificates (the usual case inside a hospital,
/// where each modality's self-signed certificate is pinned).
/// </summary>
public sealed record DicomTlsOptions
{
    /// <summary>Our certificate with its private key: required for an SCP, optional (client authentication) for an SCU.</summary>
    public X509Certificate2? Certificate { get; init; }
    /// <summary>SCP: refuse peers that present no (valid) certificate.</summary>
    public bool RequireClientCertificate { get; init; }
    /// <summary>TLS versions allowed; None lets the operating system choose its secure defaults.</summary>
    public SslProtocols EnabledProtocols { get; init; } = SslProtocols.Tls12 | SslProtocols.Tls13;
    /// <summary>Certificates a peer's certificate must be (or chain to, as its root); null: the system trust store.</summary>
    public X509Certificate2Collection? TrustedCertificates { get; init; }
    /// <summary>SCU: the name to verify the server certificate against; defaults to the host connected to.</summary>
    public string? TargetHost { get; init; }

    internal SslServerAuthenticationOptions ServerOptions() => new()
    {
        ServerCertificate = Certificate ?? throw new InvalidOperationException("a TLS SCP needs a certificate with its private key"),
        ClientCertificateRequired = RequireClientCertificate,
        EnabledSslProtocols = EnabledProtocols,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, cert, chain, errors) =>
            cert is null ? !RequireClientCertificate : Validate(cert, errors, checkName: false),
    };

    internal SslClientAuthenticationOptions ClientOptions(string host) => new()
    {
        TargetHost = TargetHost ?? host,
        ClientCertificates = Certificate is null ? null : [Certificate],
        EnabledSslProtocols = EnabledProtocols,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, cert, _, errors) => cert is not null && Validate(cert, errors, checkName: true),
    };

    private bool Validate(X509Certificate cert, SslPolicyErrors errors, bool checkName)
    {
        if (checkName && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0) return false;
        if (TrustedCertificates is null) return (errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None;
        using var presented = new X509Certificate2(cert);
        foreach (var trusted in TrustedCertificates)
            if (trusted.Thumbprint == presented.Thumbprint) return true;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(TrustedCertificates);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(presented);
    }
}
