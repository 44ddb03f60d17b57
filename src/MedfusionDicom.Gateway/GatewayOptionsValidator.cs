using System.Text.RegularExpressions;
using MedfusionDicom.Dicom;
using MedfusionDicom.Gateway.Routing;
using Microsoft.Extensions.Options;

namespace MedfusionDicom.Gateway;

/// <summary>Checks the settings at start; each failure names its configuration key ("Gateway:Routes:0:Model") and says what is wrong.</summary>
public sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    private const string Root = GatewayOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var failures = new List<string>();
        void Fail(string key, string message) => failures.Add($"{Root}:{key}: {message}");

        if (string.IsNullOrWhiteSpace(options.DataDirectory)) Fail("DataDirectory", "must name a folder");
        if (!Enum.IsDefined(options.Database.Provider)) Fail("Database:Provider", "must be Sqlite or PostgreSql");
        if (options.Database.Provider == DatabaseProvider.PostgreSql)
            ValidatePostgreSqlConnection(options.Database.ConnectionString, Fail);
        if (options.NodeName.Length > 0 && (options.NodeName.Length > 64 || !options.NodeName.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            Fail("NodeName", $"'{options.NodeName}' must be up to 64 letters, digits, '-', '_' or '.'");
        ValidateDimse(options.Dimse, Fail);
        ValidateUrl(options.DicomWeb.Url, "DicomWeb:Url", Fail);
        if (options.DicomWeb.MaxRequestMegabytes < 1) Fail("DicomWeb:MaxRequestMegabytes", "must be at least 1");
        if (options.DicomWeb.Url.StartsWith("https:", StringComparison.OrdinalIgnoreCase) != options.DicomWeb.Tls is not null)
            Fail("DicomWeb:Tls", "an https:// Url needs Tls (CertificatePath, KeyPath), and Tls needs an https:// Url");
        ValidateCorsOrigins(options.DicomWeb.CorsOrigins, Fail);
        ValidateAuthentication(options.DicomWeb, Fail);
        ValidateUrl(options.Grpc.Url, "Grpc:Url", Fail);
        if (!double.IsFinite(options.Assembly.StableSeconds) || options.Assembly.StableSeconds < 0) Fail("Assembly:StableSeconds", "must be 0 or more seconds");
        ValidateWorkers(options.Workers, Fail);
        ValidateDestinations(options.Destinations, Fail);
        ValidateRoutes(options.Routes, options.Destinations, Fail);
        var jobs = options.Jobs;
        if (jobs.MaxAttempts < 1) Fail("Jobs:MaxAttempts", "must be at least 1");
        if (!(jobs.InitialRetrySeconds > 0)) Fail("Jobs:InitialRetrySeconds", "must be more than 0");
        if (!(jobs.MaxRetrySeconds >= jobs.InitialRetrySeconds)) Fail("Jobs:MaxRetrySeconds", "must be at least Jobs:InitialRetrySeconds");
        if (!(jobs.LeaseSeconds > 0)) Fail("Jobs:LeaseSeconds", "must be more than 0");
        if (options.Storage.MinimumFreeMegabytes < 0) Fail("Storage:MinimumFreeMegabytes", "must be 0 or more");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void ValidatePostgreSqlConnection(string connectionString, Action<string, string> fail)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            fail("Database:ConnectionString", "PostgreSql needs a connection string (Host=...;Database=...;Username=...)");
            return;
        }

        try
        {
            var builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
            if (string.IsNullOrEmpty(builder.Host)) fail("Database:ConnectionString", "names no Host");
        }
        catch (ArgumentException e)
        {
            fail("Database:ConnectionString", $"is not an Npgsql connection string: {e.Message}");
        }
    }

    private static void ValidateDimse(DimseOptions dimse, Action<string, string> fail)
    {
        if (!IsAeTitle(dimse.AeTitle)) fail("Dimse:AeTitle", $"'{dimse.AeTitle}' is not an AE title (1 to 16 characters, no backslash)");
        if (dimse.Port is < 0 or > 65535) fail("Dimse:Port", $"{dimse.Port} is not a TCP port (0 picks a free one)");
        if (dimse.MaxAssociations < 1) fail("Dimse:MaxAssociations", "must be at least 1");
        for (var i = 0; i < dimse.AllowedCallers.Count; i++)
        {
            if (!IsAeTitle(dimse.AllowedCallers[i].AeTitle)) fail($"Dimse:AllowedCallers:{i}:AeTitle", $"'{dimse.AllowedCallers[i].AeTitle}' is not an AE title");
        }

        if (dimse.Tls is { } tls && !File.Exists(tls.CertificatePath)) fail("Dimse:Tls:CertificatePath", $"'{tls.CertificatePath}' does not exist");
        if (dimse.Tls is { TrustedCertificatesPath.Length: > 0 } pinned && !File.Exists(pinned.TrustedCertificatesPath))
            fail("Dimse:Tls:TrustedCertificatesPath", $"'{pinned.TrustedCertificatesPath}' does not exist");
    }

    private static void ValidateAuthentication(DicomWebOptions web, Action<string, string> fail)
    {
        switch (web.Authentication)
        {
            case DicomWebAuthentication.None:
                break;
            case DicomWebAuthentication.ApiKey:
                if (!IsHeaderName(web.ApiKeyHeader)) fail("DicomWeb:ApiKeyHeader", $"'{web.ApiKeyHeader}' is not an HTTP header name");
                if (web.ApiKeySha256.Count == 0) fail("DicomWeb:ApiKeySha256", "ApiKey needs the SHA-256 of at least one key");
                for (var i = 0; i < web.ApiKeySha256.Count; i++)
                    if (web.ApiKeySha256[i] is not { Length: 64 } hash || !hash.All(char.IsAsciiHexDigit))
                        fail($"DicomWeb:ApiKeySha256:{i}", "must be a SHA-256 as 64 hex digits (printf %s KEY | sha256sum)");
                break;
            case DicomWebAuthentication.Jwt:
                if (!Uri.TryCreate(web.Authority, UriKind.Absolute, out var authority) || authority.Scheme is not ("https" or "http"))
                    fail("DicomWeb:Authority", $"Jwt needs the token issuer's URL (https://...), not '{web.Authority}'");
                else if (authority.Scheme == "http" && !authority.IsLoopback)
                    fail("DicomWeb:Authority", $"'{web.Authority}' must be https: only a loopback issuer may be reached over http");
                if (string.IsNullOrWhiteSpace(web.Audience)) fail("DicomWeb:Audience", "Jwt needs the audience that tokens for this service carry");
                break;
            default:
                fail("DicomWeb:Authentication", "must be None, ApiKey or Jwt");
                break;
        }
    }

    /// <summary>A browser sends its Origin as scheme://host[:port]; anything else in the list could never match one.</summary>
    private static void ValidateCorsOrigins(List<string> origins, Action<string, string> fail)
    {
        for (var i = 0; i < origins.Count; i++)
        {
            var origin = origins[i];
            if (origin == "*") continue;
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.PathAndQuery != "/" || origin.EndsWith('/') || uri.UserInfo.Length > 0 || uri.Fragment.Length > 0)
                fail($"DicomWeb:CorsOrigins:{i}", $"'{origin}' is not an origin (scheme://host[:port], no path) or *");
        }
    }

    private static void ValidateUrl(string url, string key, Action<string, string> fail)
    {
        if (url.Length > 0 && !(Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)))
            fail(key, $"'{url}' is not an http:// or https:// URL (empty turns the endpoint off)");
    }

    private static void ValidateWorkers(List<WorkerEndpointOptions> workers, Action<string, string> fail)
    {
        if (workers.Count == 0) fail("Workers", "lists no worker; add {\"Name\": \"worker\", \"Address\": \"child\"} to run the bundled models in a worker process of the gateway");
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < workers.Count; i++)
        {
            var w = workers[i];
            if (string.IsNullOrWhiteSpace(w.Name) || !names.Add(w.Name)) fail($"Workers:{i}:Name", $"'{w.Name}' is empty or used twice");
            if (!w.IsOwn && !(Uri.TryCreate(w.Address, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)))
                fail($"Workers:{i}:Address", $"'{w.Address}' is neither 'child', 'embedded' nor an http(s):// URL");
            if (w.MaxConcurrency < 1) fail($"Workers:{i}:MaxConcurrency", "must be at least 1");
            if (w.Niceness is < 0 or > 19) fail($"Workers:{i}:Niceness", $"{w.Niceness} is not a nice value (0 to 19)");
            if (w.MemoryBudgetMegabytes < 16) fail($"Workers:{i}:MemoryBudgetMegabytes", $"{w.MemoryBudgetMegabytes} MB is too small a working memory (16 or more)");
        }
    }

    private static void ValidateDestinations(List<DestinationOptions> destinations, Action<string, string> fail)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < destinations.Count; i++)
        {
            var d = destinations[i];
            if (string.IsNullOrWhiteSpace(d.Name) || !names.Add(d.Name)) fail($"Destinations:{i}:Name", $"'{d.Name}' is empty or used twice");
            if (d.Deidentify is { } deid)
            {
                if (!File.Exists(deid.KeyFile)) fail($"Destinations:{i}:Deidentify:KeyFile", $"'{deid.KeyFile}' does not exist");
                else if (new FileInfo(deid.KeyFile).Length < 16) fail($"Destinations:{i}:Deidentify:KeyFile", "must hold at least 16 bytes");
                for (var o = 0; o < deid.Options.Count; o++)
                {
                    try
                    {
                        if (MedfusionDicom.Dicom.Deidentification.DeidentificationOptionNames.Parse(deid.Options[o]) == MedfusionDicom.Dicom.Deidentification.DeidentificationOption.CleanPixelData)
                            fail($"Destinations:{i}:Deidentify:Options:{o}", "clean-pixel-data is not offered for destinations (it needs an inpainting model per export)");
                    }
                    catch (MedfusionDicom.Dicom.DicomException e)
                    {
                        fail($"Destinations:{i}:Deidentify:Options:{o}", e.Message);
                    }
                }
            }

            switch (d.Type)
            {
                case DestinationType.Dimse:
                    if (string.IsNullOrWhiteSpace(d.Host)) fail($"Destinations:{i}:Host", "is empty");
                    if (d.Port is < 1 or > 65535) fail($"Destinations:{i}:Port", $"{d.Port} is not a TCP port");
                    if (!IsAeTitle(d.AeTitle)) fail($"Destinations:{i}:AeTitle", $"'{d.AeTitle}' is not an AE title");
                    if (!IsAeTitle(d.CallingAeTitle)) fail($"Destinations:{i}:CallingAeTitle", $"'{d.CallingAeTitle}' is not an AE title");
                    if (d.Tls is { } tls)
                    {
                        if (tls.CertificatePath.Length > 0 && !File.Exists(tls.CertificatePath)) fail($"Destinations:{i}:Tls:CertificatePath", $"'{tls.CertificatePath}' does not exist");
                        if (tls.KeyPath is { Length: > 0 } key && !File.Exists(key)) fail($"Destinations:{i}:Tls:KeyPath", $"'{key}' does not exist");
                        if (tls.TrustedCertificatesPath.Length > 0 && !File.Exists(tls.TrustedCertificatesPath))
                            fail($"Destinations:{i}:Tls:TrustedCertificatesPath", $"'{tls.TrustedCertificatesPath}' does not exist");
                    }

                    break;
                case DestinationType.DicomWeb:
                    if (!Uri.TryCreate(d.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
                        fail($"Destinations:{i}:Url", $"'{d.Url}' is not an http(s) URL (the STOW-RS base, e.g. http://pacs:8042/dicom-web)");
                    foreach (var header in d.Headers.Keys.Where(h => !IsHeaderName(h)))
                        fail($"Destinations:{i}:Headers", $"'{header}' is not an HTTP header name");
                    break;
            }
        }
    }

    private static void ValidateRoutes(List<RouteOptions> routes, List<DestinationOptions> destinations, Action<string, string> fail)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var destinationNames = destinations.Select(d => d.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < routes.Count; i++)
        {
            var r = routes[i];
            if (string.IsNullOrWhiteSpace(r.Name) || !names.Add(r.Name)) fail($"Routes:{i}:Name", $"'{r.Name}' is empty or used twice");
            if (r.Match.Count == 0) fail($"Routes:{i}:Match", "is empty; a route matches on at least one keyword (e.g. \"Modality\": [\"DX\"])");
            foreach (var (keyword, values) in r.Match)
            {
                if (!RouteMatcher.IsMatchKey(keyword))
                    fail($"Routes:{i}:Match:{keyword}", "is neither a DICOM keyword of the dictionary nor CallingAeTitle or CalledAeTitle");
                for (var v = 0; v < values.Count; v++)
                {
                    if (RouteMatcher.PatternError(values[v]) is { } error) fail($"Routes:{i}:Match:{keyword}:{v}", error);
                }
            }

            var p = r.Pipeline;
            if (!RouteMatcher.Tasks.Contains(p.Task)) fail($"Routes:{i}:Pipeline:Task", $"'{p.Task}' is not one of: {string.Join(", ", RouteMatcher.Tasks)}");
            if (string.IsNullOrWhiteSpace(p.Model)) fail($"Routes:{i}:Pipeline:Model", "is empty");
            if (p.Steps < 0) fail($"Routes:{i}:Pipeline:Steps", "must be 0 (the model's default) or more");
            if (!double.IsFinite(p.Strength) || p.Strength is < 0 or > 1) fail($"Routes:{i}:Pipeline:Strength", "must be within 0..1 (0: the model's default)");
            for (var b = 0; b < p.MaskBoxes.Count; b++)
            {
                if (p.MaskBoxes[b] is not [>= 0, >= 0, > 0, > 0]) fail($"Routes:{i}:Pipeline:MaskBoxes:{b}", "must be [x, y, width, height] with x, y >= 0 and width, height > 0");
            }

            for (var d = 0; d < r.Destinations.Count; d++)
            {
                if (!destinationNames.Contains(r.Destinations[d]))
                    fail($"Routes:{i}:Destinations:{d}", $"no destination named '{r.Destinations[d]}'; configured: {(destinationNames.Count == 0 ? "none" : string.Join(", ", destinationNames))}");
            }
        }
    }

    private static bool IsHeaderName(string name) => !string.IsNullOrWhiteSpace(name) && !name.Any(c => c <= ' ' || c == ':' || c > '~');

    private static bool IsAeTitle(string? ae) => ae is { Length: >= 1 and <= 16 } && !ae.Contains('\\') && ae.Trim().Length > 0;
}
