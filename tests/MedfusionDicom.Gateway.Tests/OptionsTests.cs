using MedfusionDicom.Dimse.Tests;
using Microsoft.Extensions.Options;

namespace MedfusionDicom.Gateway.Tests;

public sealed class OptionsTests
{
    private static GatewayOptions Valid(TempDir dir) => GatewayRun.TestOptions(dir, 11113);

    private static IReadOnlyList<string> Failures(GatewayOptions options) =>
        new GatewayOptionsValidator().Validate(null, options).Failures?.ToList() ?? [];

    [Fact]
    public void The_test_settings_and_the_shipped_settings_are_valid()
    {
        using var dir = new TempDir();
        var shipped = GatewayHostBuilder.BindOptions(GatewayHostBuilder.LoadConfiguration(Path.Combine(GatewayRun.RepoRoot, "config", "appsettings.json"), null));

        Assert.Empty(Failures(Valid(dir)));
        Assert.Equal("MEDFUSION", shipped.Dimse.AeTitle);
        Assert.Equal(11112, shipped.Dimse.Port);
        Assert.Equal(10, shipped.Assembly.StableSeconds);
        Assert.Equal("child", Assert.Single(shipped.Workers).Address);
        var route = Assert.Single(shipped.Routes);
        Assert.Equal(["CR", "DX"], route.Match["Modality"]);
        Assert.Equal("cdiff-cxr-denoise", route.Pipeline.Model);
        Assert.Empty(shipped.Destinations);
    }

    public static TheoryData<string, Action<GatewayOptions>, string> BadSettings() => new()
    {
        { "unknown destination", o => o.Routes[0].Destinations = ["nowhere"], "Gateway:Routes:0:Destinations:0: no destination named 'nowhere'; configured: scp" },
        { "unknown keyword", o => o.Routes[0].Match = new() { ["Modalty"] = ["MR"] }, "Gateway:Routes:0:Match:Modalty" },
        { "bad regex", o => o.Routes[0].Match = new() { ["Modality"] = ["regex:(MR"] }, "Gateway:Routes:0:Match:Modality:0: 'regex:(MR' is not a valid regular expression" },
        { "bad task", o => o.Routes[0].Pipeline.Task = "sharpen", "Gateway:Routes:0:Pipeline:Task: 'sharpen' is not one of: denoise, super-resolve, inpaint" },
        { "bad strength", o => o.Routes[0].Pipeline.Strength = 1.5, "Gateway:Routes:0:Pipeline:Strength" },
        { "bad mask box", o => o.Routes[0].Pipeline.MaskBoxes = [[0, 0, 0, 10]], "Gateway:Routes:0:Pipeline:MaskBoxes:0" },
        { "long AE title", o => o.Dimse.AeTitle = "A_TITLE_LONGER_THAN_16", "Gateway:Dimse:AeTitle" },
        { "no worker", o => o.Workers.Clear(), "Gateway:Workers: lists no worker" },
        { "bad worker address", o => o.Workers[0].Address = "tcp://x", "Gateway:Workers:0:Address: 'tcp://x' is neither 'child', 'embedded' nor an http(s):// URL" },
        { "bad destination port", o => o.Destinations[0].Port = 0, "Gateway:Destinations:0:Port" },
        { "destination TLS", o => o.Destinations[0].Tls = new TlsOptions { TrustedCertificatesPath = "/etc/ssl/no-such-pacs.pem" }, "Gateway:Destinations:0:Tls:TrustedCertificatesPath: '/etc/ssl/no-such-pacs.pem' does not exist" },
        { "retry range", o => o.Jobs.MaxRetrySeconds = 0.1, "Gateway:Jobs:MaxRetrySeconds" },
        { "bad URL", o => o.DicomWeb.Url = "localhost:8080", "Gateway:DicomWeb:Url" },
        { "CORS origin with a path", o => o.DicomWeb.CorsOrigins = ["https://viewer.example/ohif"], "Gateway:DicomWeb:CorsOrigins:0: 'https://viewer.example/ohif' is not an origin" },
        { "API key without keys", o => o.DicomWeb.Authentication = DicomWebAuthentication.ApiKey, "Gateway:DicomWeb:ApiKeySha256: ApiKey needs the SHA-256 of at least one key" },
        { "API key hash not hex", o => (o.DicomWeb.Authentication, o.DicomWeb.ApiKeySha256) = (DicomWebAuthentication.ApiKey, ["s3cret"]), "Gateway:DicomWeb:ApiKeySha256:0: must be a SHA-256 as 64 hex digits" },
        { "API key header", o => (o.DicomWeb.Authentication, o.DicomWeb.ApiKeySha256, o.DicomWeb.ApiKeyHeader) = (DicomWebAuthentication.ApiKey, [new string('a', 64)], "X Key"), "Gateway:DicomWeb:ApiKeyHeader: 'X Key' is not an HTTP header name" },
        { "JWT without an issuer", o => (o.DicomWeb.Authentication, o.DicomWeb.Audience) = (DicomWebAuthentication.Jwt, "gateway"), "Gateway:DicomWeb:Authority: Jwt needs the token issuer's URL" },
        { "JWT issuer over http", o => (o.DicomWeb.Authentication, o.DicomWeb.Authority, o.DicomWeb.Audience) = (DicomWebAuthentication.Jwt, "http://idp.example/realms/x", "gateway"), "Gateway:DicomWeb:Authority: 'http://idp.example/realms/x' must be https" },
        { "JWT without an audience", o => (o.DicomWeb.Authentication, o.DicomWeb.Authority) = (DicomWebAuthentication.Jwt, "https://idp.example/realms/x"), "Gateway:DicomWeb:Audience: Jwt needs the audience" },
        { "CORS origin without a scheme", o => o.DicomWeb.CorsOrigins = ["*", "viewer.example"], "Gateway:DicomWeb:CorsOrigins:1: 'viewer.example' is not an origin" },
        { "PostgreSQL without a connection", o => o.Database.Provider = DatabaseProvider.PostgreSql, "Gateway:Database:ConnectionString: PostgreSql needs a connection string" },
        { "bad PostgreSQL connection", o => (o.Database.Provider, o.Database.ConnectionString) = (DatabaseProvider.PostgreSql, "Hots=db"), "Gateway:Database:ConnectionString: is not an Npgsql connection string" },
        { "bad node name", o => o.NodeName = "node/a", "Gateway:NodeName: 'node/a' must be" },
        { "research key missing", o => o.Destinations[0].Deidentify = new DestinationDeidentificationOptions { KeyFile = "/nonexistent/research.key" }, "Gateway:Destinations:0:Deidentify:KeyFile: '/nonexistent/research.key' does not exist" },
        { "research option unknown", o => o.Destinations[0].Deidentify = new DestinationDeidentificationOptions { KeyFile = "/etc/hostname", Options = ["retain-all"] }, "Gateway:Destinations:0:Deidentify:Options:0: 'retain-all' is not a de-identification option" },
        { "STOW-RS without a URL", o => o.Destinations.Add(new DestinationOptions { Name = "web", Type = DestinationType.DicomWeb }), "Gateway:Destinations:1:Url: '' is not an http(s) URL" },
        { "bad header name", o => o.Destinations.Add(new DestinationOptions { Name = "web", Type = DestinationType.DicomWeb, Url = "http://pacs/dicom-web", Headers = new() { ["X Bad"] = "1" } }), "Gateway:Destinations:1:Headers: 'X Bad' is not an HTTP header name" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public void A_bad_setting_is_refused_with_its_key(string what, Action<GatewayOptions> spoil, string expected)
    {
        using var dir = new TempDir();
        var options = Valid(dir);
        spoil(options);

        var failures = Failures(options);

        Assert.True(failures.Any(f => f.Contains(expected, StringComparison.Ordinal)), $"{what}: {string.Join(" | ", failures)}");
    }

    [Fact]
    public void Binding_throws_with_every_failure_named()
    {
        using var dir = new TempDir();
        var file = Path.Combine(dir.Path, "bad.json");
        File.WriteAllText(file, """{ "Gateway": { "Dimse": { "Port": 70000 }, "Jobs": { "MaxAttempts": 0 } } }""");

        var error = Assert.Throws<OptionsValidationException>(() =>
            GatewayHostBuilder.BindOptions(GatewayHostBuilder.LoadConfiguration(Path.Combine(GatewayRun.RepoRoot, "config", "appsettings.json"), file)));

        Assert.Contains("Gateway:Dimse:Port: 70000 is not a TCP port", error.Message, StringComparison.Ordinal);
        Assert.Contains("Gateway:Jobs:MaxAttempts", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_operators_routes_replace_the_shipped_ones_and_environment_variables_override_both()
    {
        using var dir = new TempDir();
        var file = Path.Combine(dir.Path, "site.json");
        File.WriteAllText(file, """
            { "Gateway": { "Dimse": { "AeTitle": "SITEGW" }, "Routes": [ { "Name": "mr", "Match": { "Modality": [ "MR" ] },
              "Pipeline": { "Task": "denoise", "Model": "cdiff-cxr-denoise" } } ] } }
            """);
        var variable = "MEDFUSION_Gateway__Dimse__Port";
        Environment.SetEnvironmentVariable(variable, "11999");
        try
        {
            var options = GatewayHostBuilder.BindOptions(GatewayHostBuilder.LoadConfiguration(Path.Combine(GatewayRun.RepoRoot, "config", "appsettings.json"), file));

            var route = Assert.Single(options.Routes);
            Assert.Equal(["MR"], route.Match["Modality"]); // not [MR, DX], as an item-by-item merge would make it
            Assert.Equal("SITEGW", options.Dimse.AeTitle);
            Assert.Equal(11999, options.Dimse.Port);
            Assert.Equal("child", Assert.Single(options.Workers).Address); // lists the file does not give stay shipped
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public void A_missing_settings_file_is_named()
    {
        var error = Assert.Throws<FileNotFoundException>(() =>
            GatewayHostBuilder.LoadConfiguration(Path.Combine(GatewayRun.RepoRoot, "config", "appsettings.json"), "/nonexistent/site.json"));

        Assert.Contains("/nonexistent/site.json", error.Message, StringComparison.Ordinal);
    }
}
