using System.Security.Cryptography.X509Certificates;
using MedfusionDicom.Dimse;

namespace MedfusionDicom.Gateway;

/// <summary>The gateway's settings: configuration section "Gateway" (config/appsettings.json, --config FILE, MEDFUSION_Gateway__*).</summary>
public sealed class GatewayOptions
{
    public const string SectionName = "Gateway";

    /// <summary>Received and derived instances, the index (SQLite) and the store journal live here.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>
    /// This node's name, unique among the nodes that share a PostgreSQL index and a data directory: it names the node's
    /// leases and its store journal (DataDirectory/.journal/NAME). Empty: the machine's name.
    /// </summary>
    public string NodeName { get; set; } = "";

    /// <summary>Where the embedded worker finds its models (one sub-folder each); empty: the bundled models.</summary>
    public string ModelsDirectory { get; set; } = "";

    public DatabaseOptions Database { get; set; } = new();
    public DimseOptions Dimse { get; set; } = new();
    public DicomWebOptions DicomWeb { get; set; } = new();
    public HttpEndpointOptions Grpc { get; set; } = new() { Url = "http://127.0.0.1:50051" };
    public AssemblyOptions Assembly { get; set; } = new();
    public List<WorkerEndpointOptions> Workers { get; set; } = [];
    public List<DestinationOptions> Destinations { get; set; } = [];
    public List<RouteOptions> Routes { get; set; } = [];
    public JobOptions Jobs { get; set; } = new();
    public StorageOptions Storage { get; set; } = new();
}

public enum DatabaseProvider { Sqlite, PostgreSql }

public sealed class DatabaseOptions
{
    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>Empty with SQLite: DataDirectory/index.db. With PostgreSQL an Npgsql connection string (Host=...;Database=...;Username=...).</summary>
    public string ConnectionString { get; set; } = "";
}

public sealed class DimseOptions
{
    public string AeTitle { get; set; } = "MEDFUSION";
    public int Port { get; set; } = 11112;
    public int MaxAssociations { get; set; } = 32;

    /// <summary>Calling AE titles (optionally with a host) allowed to associate; empty: any caller.</summary>
    public List<AllowedCallerOptions> AllowedCallers { get; set; } = [];

    public TlsOptions? Tls { get; set; }
}

public sealed class AllowedCallerOptions
{
    public string AeTitle { get; set; } = "";
    public string? Host { get; set; }
}

/// <summary>DICOM TLS: the SCP's certificate, or for a destination the client certificate it may ask for and the certificates to trust.</summary>
public sealed class TlsOptions
{
    /// <summary>PEM certificate (with KeyPath, or with its key in the same file). Required for the SCP; optional for a destination.</summary>
    public string CertificatePath { get; set; } = "";
    public string? KeyPath { get; set; }
    public bool RequireClientCertificate { get; set; }

    /// <summary>PEM file of the certificates a peer must present (pinned) or chain to; empty: the system's trust store.</summary>
    public string TrustedCertificatesPath { get; set; } = "";

    /// <summary>The DIMSE layer's TLS settings for these files, for the SCP and for destinations alike.</summary>
    public DicomTlsOptions ToDicomTlsOptions()
    {
        X509Certificate2Collection? trusted = null;
        if (TrustedCertificatesPath.Length > 0)
        {
            trusted = [];
            trusted.ImportFromPemFile(TrustedCertificatesPath);
        }

        return new DicomTlsOptions
        {
            Certificate = CertificatePath.Length == 0 ? null : X509Certificate2.CreateFromPemFile(CertificatePath, KeyPath),
            RequireClientCertificate = RequireClientCertificate,
            TrustedCertificates = trusted,
        };
    }
}

public sealed class HttpEndpointOptions
{
    /// <summary>Empty turns the endpoint off.</summary>
    public string Url { get; set; } = "";
    public TlsOptions? Tls { get; set; }
}

/// <summary>The DICOMweb service: Url's path is the service root (STOW-RS at Url/studies).</summary>
public sealed class DicomWebOptions
{
    /// <summary>Empty turns the service off; port 0 picks a free one.</summary>
    public string Url { get; set; } = "http://127.0.0.1:8080/dicomweb";
    public TlsOptions? Tls { get; set; }

    /// <summary>A request body larger than this is refused (413).</summary>
    public long MaxRequestMegabytes { get; set; } = 2048;

    /// <summary>
    /// Origins (scheme://host[:port]) whose browser pages may call this service, such as a viewer served elsewhere, or
    /// "*" for any. Empty: no cross-origin access, which the gateway's own pages do not need.
    /// </summary>
    public List<string> CorsOrigins { get; set; } = [];

    /// <summary>None (meant for loopback: any other listener logs a warning at start), ApiKey or Jwt.</summary>
    public DicomWebAuthentication Authentication { get; set; } = DicomWebAuthentication.None;

    /// <summary>The request header that carries the key when Authentication is ApiKey.</summary>
    public string ApiKeyHeader { get; set; } = "X-Api-Key";

    /// <summary>The SHA-256 of each accepted key, as 64 hex digits: the settings never hold a key itself.</summary>
    public List<string> ApiKeySha256 { get; set; } = [];

    /// <summary>Jwt: the OpenID Connect issuer whose signed tokens are accepted (its keys come from its discovery document).</summary>
    public string Authority { get; set; } = "";

    /// <summary>Jwt: the audience (aud) that a token must name.</summary>
    public string Audience { get; set; } = "";

    /// <summary>Jwt: the OpenID Connect client id of the viewer, for its sign-in; empty: Audience.</summary>
    public string ViewerClientId { get; set; } = "";

    /// <summary>
    /// Where the OHIF viewer's files (the dist/ of @ohif/app) are; empty: the copy scripts/bootstrap installs in
    /// viewer/ohif/dist. It is served at /viewer/ beside the service root (http://host:8080/viewer/ for
    /// http://host:8080/dicomweb).
    /// </summary>
    public string ViewerDirectory { get; set; } = "";

    /// <summary>False: no viewer is served.</summary>
    public bool ViewerEnabled { get; set; } = true;
}

public enum DicomWebAuthentication
{
    None,
    ApiKey,
    Jwt,
}

public sealed class AssemblyOptions
{
    /// <summary>A study is stable, and its series are routed, when nothing of it has arrived for this long.</summary>
    public double StableSeconds { get; set; } = 10;
}

public sealed class WorkerEndpointOptions
{
    public string Name { get; set; } = "";

    /// <summary>
    /// "child" (a `medfusion worker` process that the gateway starts on a loopback port and restarts; the shipped
    /// default), "embedded" (in this process), both on ModelsDirectory, or an http(s):// URL of a `medfusion worker`.
    /// </summary>
    public string Address { get; set; } = "";

    /// <summary>Calls the gateway keeps open to this worker at once.</summary>
    public int MaxConcurrency { get; set; } = 2;

    /// <summary>
    /// Own worker only (embedded or child): the Linux nice value (0 to 19) of its sampling threads. The default, 19, lets ingest take
    /// the CPU whenever it needs it (bench/RESULTS.md, "Gateway: ingest while the embedded worker is busy").
    /// </summary>
    public int Niceness { get; set; } = 19;

    /// <summary>
    /// Own worker only (embedded or child): the working memory one forward pass may take (Worker:Tiling:MemoryBudgetMegabytes); a
    /// larger image is tiled. Small by default, since the gateway shares its process with ingest and exports.
    /// </summary>
    public long MemoryBudgetMegabytes { get; set; } = 256;

    public bool IsEmbedded => string.Equals(Address, "embedded", StringComparison.OrdinalIgnoreCase);

    public bool IsChild => string.Equals(Address, "child", StringComparison.OrdinalIgnoreCase);

    /// <summary>The gateway runs this worker's models itself (in its process or in a child of it).</summary>
    public bool IsOwn => IsEmbedded || IsChild;
}

public enum DestinationType { Dimse, DicomWeb }

public sealed class DestinationOptions
{
    public string Name { get; set; } = "";
    public DestinationType Type { get; set; } = DestinationType.Dimse;

    // Dimse
    public string Host { get; set; } = "";
    public int Port { get; set; }
    public string AeTitle { get; set; } = "";
    public string CallingAeTitle { get; set; } = "MEDFUSION";
    public TlsOptions? Tls { get; set; }

    // DicomWeb
    public string Url { get; set; } = "";
    public Dictionary<string, string> Headers { get; set; } = [];

    /// <summary>A research destination: what is sent there is de-identified first (PS3.15 Annex E); null sends as stored.</summary>
    public DestinationDeidentificationOptions? Deidentify { get; set; }
}

/// <summary>How a destination's instances are de-identified before they leave (the same as `medfusion deidentify`).</summary>
public sealed class DestinationDeidentificationOptions
{
    /// <summary>A file of at least 16 bytes, the key of the UID mapping, pseudonyms and date shifts: keep it to link later exports.</summary>
    public string KeyFile { get; set; } = "";

    /// <summary>PS3.15 options by name (retain-uids, retain-longitudinal-modified-dates, ...); clean-pixel-data is not offered here.</summary>
    public List<string> Options { get; set; } = [];
}

public sealed class RouteOptions
{
    public string Name { get; set; } = "";

    /// <summary>DICOM keyword (or CallingAeTitle, CalledAeTitle) to the values accepted; "regex:..." is a regular expression.</summary>
    public Dictionary<string, List<string>> Match { get; set; } = [];

    public PipelineOptions Pipeline { get; set; } = new();
    public List<string> Destinations { get; set; } = [];
}

public sealed class PipelineOptions
{
    /// <summary>denoise, super-resolve or inpaint.</summary>
    public string Task { get; set; } = "";
    public string Model { get; set; } = "";

    /// <summary>0: the model's default.</summary>
    public int Steps { get; set; }

    /// <summary>0: the model's default.</summary>
    public double Strength { get; set; }

    public string Sampler { get; set; } = "";

    /// <summary>Inpainting: [x, y, w, h] boxes of pixels to fill (an instance's overlay plane 6000,3000 is used when it has one).</summary>
    public List<int[]> MaskBoxes { get; set; } = [];
}

public sealed class JobOptions
{
    public int MaxAttempts { get; set; } = 5;
    public double InitialRetrySeconds { get; set; } = 2;
    public double MaxRetrySeconds { get; set; } = 300;
    public double LeaseSeconds { get; set; } = 60;
}

public sealed class StorageOptions
{
    /// <summary>Below this much free space C-STORE answers A700 and nothing half-written is kept.</summary>
    public long MinimumFreeMegabytes { get; set; } = 1024;
}
