using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MedfusionDicom.Grpc.Tests.Infrastructure;

/// <summary>A self-signed server certificate for localhost and 127.0.0.1, with PEM files for grpc-js.</summary>
public sealed class TestCertificate : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("medfusion-grpc-tls-").FullName;

    public TestCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        // A PKCS#12 round trip gives the certificate a key that SslStream can use on every platform.
        Certificate = X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
        CertificatePem = created.ExportCertificatePem();
        CertificatePath = Path.Combine(directory, "server.crt");
        KeyPath = Path.Combine(directory, "server.key");
        File.WriteAllText(CertificatePath, CertificatePem);
        File.WriteAllText(KeyPath, key.ExportPkcs8PrivateKeyPem());
    }

    public X509Certificate2 Certificate { get; }

    public string CertificatePem { get; }

    public string CertificatePath { get; }

    public string KeyPath { get; }

    public void Dispose()
    {
        Certificate.Dispose();
        Directory.Delete(directory, recursive: true);
    }
}
