using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>Gateway:DicomWeb:Authentication = ApiKey: only a request with an accepted key is served; nothing is stored without one.</summary>
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
        HttpRequestMessage Store()
        {
            var body = new MultipartContent("related", "b0und4ry");
            body.Add(new ByteArrayContent(instance) { Headers = { ContentType = new MediaTypeHeaderValue("application/dicom") } });
            body.Headers.ContentType!.Parameters.Add(new NameValueHeaderValue("type", "\"application/dicom\""));
            return new HttpRequestMessage(HttpMethod.Post, studies) { Content = body };
        }
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
}
