using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>Gateway:DicomWeb:Authentication = ApiKey or Jwt: only a request with an accepted key or token is served; nothing is stored without one.</summary>
public sealed class DicomWebAuthenticationTests
{
    private const string Key = "correct horse battery staple";

    private static string Sha256Hex(string key) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key))).ToLowerInvariant();

    private static async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, string? key)
    {
        using var http = new HttpClient();
        if (key is not null) request.Headers.Add("X-Api-Key", key);
        return await http.SendAsync(request);
    }

    private static HttpRequestMessage Store(string url, byte[] instance)
    {
        var body = new MultipartContent("related", "b0und4ry");
        body.Add(new ByteArrayContent(instance) { Headers = { ContentType = new MediaTypeHeaderValue("application/dicom") } });
        body.Headers.ContentType!.Parameters.Add(new NameValueHeaderValue("type", "\"application/dicom\""));
        return new HttpRequestMessage(HttpMethod.Post, url) { Content = body };
    }

    [Fact]
    public async Task A_request_needs_an_accepted_key_a_refused_store_stores_nothing_and_a_preflight_passes()
    {
        await using var gateway = await DicomWebPeers.StartGatewayAsync(o =>
        {
            o.DicomWeb.Authentication = DicomWebAuthentication.ApiKey;
            o.DicomWeb.ApiKeySha256 = [Sha256Hex("an old key"), Sha256Hex(Key)];
            o.DicomWeb.CorsOrigins = [DicomWebCorsTests.Viewer];
        });
        var studies = $"{gateway.Options.DicomWeb.Url}/studies";

        using var without = await SendAsync(new HttpRequestMessage(HttpMethod.Get, studies), null);
        Assert.Equal(HttpStatusCode.Unauthorized, without.StatusCode);
        Assert.Equal("ApiKey header=\"X-Api-Key\"", without.Headers.WwwAuthenticate.ToString());
        Assert.Contains("X-Api-Key", await without.Content.ReadAsStringAsync());
        using var wrong = await SendAsync(new HttpRequestMessage(HttpMethod.Get, studies), "correct horse battery stapler");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);

        var instance = await File.ReadAllBytesAsync(TestSeries.Mr(gateway.Dir, 1)[0]);
        HttpRequestMessage Store() => DicomWebAuthenticationTests.Store(studies, instance);
        async Task<string> SearchAsync()
        {
            using var search = await SendAsync(new HttpRequestMessage(HttpMethod.Get, studies), Key);
            Assert.Equal(HttpStatusCode.OK, search.StatusCode);
            return (await search.Content.ReadAsStringAsync()).Trim();
        }

        using var refused = await SendAsync(Store(), null);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("[]", await SearchAsync());
        using var stored = await SendAsync(Store(), Key);
        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        Assert.NotEqual("[]", await SearchAsync());

        using var preflight = new HttpRequestMessage(HttpMethod.Options, studies);
        preflight.Headers.Add("Origin", DicomWebCorsTests.Viewer);
        preflight.Headers.Add("Access-Control-Request-Method", "GET");
        preflight.Headers.Add("Access-Control-Request-Headers", "x-api-key");
        using var allowed = await SendAsync(preflight, null);
        Assert.Equal(HttpStatusCode.NoContent, allowed.StatusCode);
        Assert.Equal(DicomWebCorsTests.Viewer, allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    [Fact]
    public async Task A_request_needs_a_token_that_the_issuer_signed_for_the_audience_and_the_viewer_signs_in_there()
    {
        await using var issuer = await TestTokenIssuer.StartAsync();
        await using var gateway = await DicomWebPeers.StartGatewayAsync(o =>
        {
            o.DicomWeb.Authentication = DicomWebAuthentication.Jwt;
            o.DicomWeb.Authority = issuer.Authority;
            o.DicomWeb.Audience = "medfusion-gateway";
            o.DicomWeb.ViewerClientId = "ohif-viewer";
        });
        var studies = $"{gateway.Options.DicomWeb.Url}/studies";
        using var http = new HttpClient();
        async Task<HttpResponseMessage> Send(HttpRequestMessage request, string? token)
        {
            if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return await http.SendAsync(request);
        }

        var valid = issuer.Token("medfusion-gateway", TimeSpan.FromMinutes(5));
        using var served = await Send(new HttpRequestMessage(HttpMethod.Get, studies), valid);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);

        foreach (var (token, reason) in new (string?, string)[]
                 {
                     (null, "needs a bearer token"),
                     (issuer.Token("another-service", TimeSpan.FromMinutes(5)), "audience"),
                     (issuer.Token("medfusion-gateway", TimeSpan.FromMinutes(-5)), "lifetime"),
                     (issuer.Token("medfusion-gateway", TimeSpan.FromMinutes(5), publishedKey: false), "signature"),
                     (issuer.Token("medfusion-gateway", TimeSpan.FromMinutes(5), issuer: "http://127.0.0.1:1/realms/other"), "issuer"),
                     (valid[..^4], "signature"),
                     ("not-a-jwt", "not valid"),
                 })
        {
            using var refused = await Send(new HttpRequestMessage(HttpMethod.Get, studies), token);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.StartsWith("Bearer", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
            var text = await refused.Content.ReadAsStringAsync();
            Assert.True(text.Contains(reason, StringComparison.Ordinal), $"'{text}' does not say '{reason}'");
            Assert.DoesNotContain("IDX", text, StringComparison.Ordinal); // the library's message stays in the log
        }

        var instance = await File.ReadAllBytesAsync(TestSeries.Mr(gateway.Dir, 1)[0]);
        using var refusedStore = await Send(Store(studies, instance), issuer.Token("another-service", TimeSpan.FromMinutes(5)));
        Assert.Equal(HttpStatusCode.Unauthorized, refusedStore.StatusCode);
        Assert.Empty(await gateway.Index.ListInstancesAsync());
        using var stored = await Send(Store(studies, instance), valid);
        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        Assert.Single(await gateway.Index.ListInstancesAsync());

        // The viewer loads without a token and signs in at the issuer with its own client id.
        var config = await http.GetStringAsync(new Uri(new Uri(gateway.Options.DicomWeb.Url), "/viewer/app-config.js"));
        Assert.Contains($"\"authority\": \"{issuer.Authority}\"", config, StringComparison.Ordinal);
        Assert.Contains("\"client_id\": \"ohif-viewer\"", config, StringComparison.Ordinal);
    }
}
