using System.Net;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>Gateway:DicomWeb:CorsOrigins: a viewer served from another origin may call the service; no other may.</summary>
public sealed class DicomWebCorsTests
{
    internal const string Viewer = "http://viewer.example:3000";

    private static async Task<HttpResponseMessage> SendAsync(HttpMethod method, string url, string origin, bool preflight = false)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(method, url);
        request.Headers.Add("Origin", origin);
        if (preflight)
        {
            request.Headers.Add("Access-Control-Request-Method", "GET");
            request.Headers.Add("Access-Control-Request-Headers", "accept,authorization");
        }
        return await http.SendAsync(request);
    }

    private static string? Header(HttpResponseMessage answer, string name) =>
        answer.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    [Fact]
    public async Task A_listed_origin_gets_its_preflight_and_the_headers_a_viewer_reads_and_another_origin_gets_none()
    {
        await using var gateway = await DicomWebPeers.StartGatewayAsync(o => o.DicomWeb.CorsOrigins = [Viewer]);
        var studies = $"{gateway.Options.DicomWeb.Url}/studies";

        using var preflight = await SendAsync(HttpMethod.Options, studies, Viewer, preflight: true);
        Assert.Equal(HttpStatusCode.NoContent, preflight.StatusCode);
        Assert.Equal(Viewer, Header(preflight, "Access-Control-Allow-Origin"));
        Assert.Contains("GET", Header(preflight, "Access-Control-Allow-Methods"));
        Assert.Contains("authorization", Header(preflight, "Access-Control-Allow-Headers"), StringComparison.OrdinalIgnoreCase);

        using var search = await SendAsync(HttpMethod.Get, studies + "?Unknown=1", Viewer);
        Assert.Equal(HttpStatusCode.OK, search.StatusCode);
        Assert.Equal(Viewer, Header(search, "Access-Control-Allow-Origin"));
        Assert.Contains("Warning", Header(search, "Access-Control-Expose-Headers"));

        using var stranger = await SendAsync(HttpMethod.Get, studies, "http://elsewhere.example");
        Assert.Equal(HttpStatusCode.OK, stranger.StatusCode); // the browser, not the server, withholds the answer
        Assert.Null(Header(stranger, "Access-Control-Allow-Origin"));
        using var strangerPreflight = await SendAsync(HttpMethod.Options, studies, "http://elsewhere.example", preflight: true);
        Assert.Null(Header(strangerPreflight, "Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Without_CorsOrigins_no_origin_is_allowed()
    {
        await using var gateway = await DicomWebPeers.StartGatewayAsync();
        using var search = await SendAsync(HttpMethod.Get, $"{gateway.Options.DicomWeb.Url}/studies", Viewer);
        Assert.Equal(HttpStatusCode.OK, search.StatusCode);
        Assert.Null(Header(search, "Access-Control-Allow-Origin"));
    }
}
