using System.Net;
using MedfusionDicom.Gateway.Storage;
using MedfusionDicom.Gateway.Viewer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Gateway.DicomWeb;

/// <summary>
/// The gateway's DICOMweb service on Kestrel at Gateway:DicomWeb:Url, whose path is the service root (the default
/// http://127.0.0.1:8080/dicomweb serves /dicomweb/studies). It serves STOW-RS, QIDO-RS and WADO-RS, and the OHIF viewer beside them.
/// </summary>
public sealed class DicomWebServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DicomWebServer(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    /// <summary>Where it listens (with the port Kestrel picked when the settings say 0), without a trailing slash.</summary>
    public Uri Url { get; }

    public static async Task<DicomWebServer> StartAsync(GatewayOptions options, GatewayIndex index, InstanceFiles files, ILoggerFactory loggerFactory, CancellationToken ct)
    {
        var configured = new Uri(options.DicomWeb.Url);
        var root = configured.AbsolutePath.TrimEnd('/');
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = options.DicomWeb.MaxRequestMegabytes * 1024 * 1024;
            var address = configured.IsLoopback && configured.Host == "localhost" ? IPAddress.Loopback
                : IPAddress.TryParse(configured.Host, out var ip) ? ip : IPAddress.Any;
            kestrel.Listen(address, configured.Port, listen =>
            {
                if (options.DicomWeb.Tls is { } tls) listen.UseHttps(System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(tls.CertificatePath, tls.KeyPath));
            });
        });
        var logger = loggerFactory.CreateLogger<DicomWebServer>();
        var corsOrigins = options.DicomWeb.CorsOrigins;
        if (corsOrigins.Count > 0)
            builder.Services.AddCors(cors => cors.AddDefaultPolicy(policy =>
            {
                if (corsOrigins.Contains("*")) policy.AllowAnyOrigin();
                else policy.WithOrigins([.. corsOrigins]);
                // A viewer reads why a parameter was ignored, and where a stored study lives, from these.
                policy.WithMethods("GET", "POST").AllowAnyHeader().WithExposedHeaders("Warning", "Content-Location", "Location");
            }));
        if (options.DicomWeb.Authentication == DicomWebAuthentication.Jwt) JwtAuthentication.AddTo(builder.Services, options.DicomWeb);
        var app = builder.Build();
        if (corsOrigins.Count > 0) app.UseCors();
        var viewerBase = ViewerBase(root);
        // The viewer's files are the OHIF app, the same for everyone: it signs in on its own and sends its token with its
        // DICOMweb requests, which are checked.
        if (options.DicomWeb.Authentication is DicomWebAuthentication.ApiKey or DicomWebAuthentication.Jwt)
        {
            Func<HttpContext, RequestDelegate, Task> check = options.DicomWeb.Authentication == DicomWebAuthentication.ApiKey
                ? new ApiKeyAuthentication(options.DicomWeb.ApiKeyHeader, options.DicomWeb.ApiKeySha256, logger).InvokeAsync
                : new JwtAuthentication(logger).InvokeAsync;
            app.UseWhen(context => !(options.DicomWeb.ViewerEnabled && context.Request.Path.StartsWithSegments(viewerBase)), branch => branch.Use(check));
        }
        string? publicRoot = null;
        var stow = new Lazy<StowRsIngest>(() => new StowRsIngest(index, files, options.Storage.MinimumFreeMegabytes * 1024 * 1024, publicRoot!, logger));
        app.MapPost(root + "/studies", (HttpContext context) => stow.Value.HandleAsync(context, null));
        app.MapPost(root + "/studies/{study}", (HttpContext context, string study) => stow.Value.HandleAsync(context, study));
        var qido = new QidoRs(index, () => publicRoot!);
        app.MapGet(root + "/studies", (HttpContext context) => qido.HandleAsync(context, QueryLevel.Study, null, null));
        app.MapGet(root + "/series", (HttpContext context) => qido.HandleAsync(context, QueryLevel.Series, null, null));
        app.MapGet(root + "/instances", (HttpContext context) => qido.HandleAsync(context, QueryLevel.Instance, null, null));
        app.MapGet(root + "/studies/{study}/series", (HttpContext context, string study) => qido.HandleAsync(context, QueryLevel.Series, study, null));
        app.MapGet(root + "/studies/{study}/instances", (HttpContext context, string study) => qido.HandleAsync(context, QueryLevel.Instance, study, null));
        app.MapGet(root + "/studies/{study}/series/{series}/instances", (HttpContext context, string study, string series) =>
            qido.HandleAsync(context, QueryLevel.Instance, study, series));
        var wado = new WadoRs(index, () => publicRoot!, new SeriesMetadataCache(Path.Combine(options.DataDirectory, ".cache", "metadata")));
        app.MapGet(root + "/studies/{study}/metadata", (HttpContext context, string study) => wado.MetadataAsync(context, study, null, null));
        app.MapGet(root + "/studies/{study}/series/{series}/metadata", (HttpContext context, string study, string series) => wado.MetadataAsync(context, study, series, null));
        app.MapGet(root + "/studies/{study}/series/{series}/instances/{instance}/metadata", (HttpContext context, string study, string series, string instance) =>
            wado.MetadataAsync(context, study, series, instance));
        app.MapGet(root + "/studies/{study}/series/{series}/instances/{instance}/frames/{list}", (HttpContext context, string study, string series, string instance, string list) =>
            wado.FramesAsync(context, study, series, instance, list));
        app.MapGet(root + "/studies/{study}/series/{series}/instances/{instance}/bulkdata/{tag}", (HttpContext context, string study, string series, string instance, string tag) =>
            wado.BulkDataAsync(context, study, series, instance, tag));
        var rendered = new RenderedRs(index);
        app.MapGet(root + "/studies/{study}/rendered", (HttpContext context, string study) => rendered.RenderedAsync(context, study, null, null, null));
        app.MapGet(root + "/studies/{study}/series/{series}/rendered", (HttpContext context, string study, string series) =>
            rendered.RenderedAsync(context, study, series, null, null));
        app.MapGet(root + "/studies/{study}/series/{series}/instances/{instance}/rendered", (HttpContext context, string study, string series, string instance) =>
            rendered.RenderedAsync(context, study, series, instance, null));
        app.MapGet(root + "/studies/{study}/series/{series}/instances/{instance}/frames/{list}/rendered",
            (HttpContext context, string study, string series, string instance, string list) => rendered.RenderedAsync(context, study, series, instance, list));
        app.MapGet(root + "/studies/{study}/thumbnail", (HttpContext context, string study) => rendered.ThumbnailAsync(context, study, null, null, null));
        app.MapGet(root + "/studies/{study}/series/{series}/thumbnail", (HttpContext context, string study, string series) =>
            rendered.ThumbnailAsync(context, study, series, null, null));
        app.MapGet(root + "/studies/{study}/series/{series}/instances/{instance}/thumbnail", (HttpContext context, string study, string series, string instance) =>
            rendered.ThumbnailAsync(context, study, series, instance, null));
        app.MapGet(root + "/studies/{study}/series/{series}/instances/{instance}/frames/{list}/thumbnail",
            (HttpContext context, string study, string series, string instance, string list) => rendered.ThumbnailAsync(context, study, series, instance, list));
        app.MapGet(root + "/studies/{study}", (HttpContext context, string study) => wado.RetrieveAsync(context, study, null, null));
        app.MapGet(root + "/studies/{study}/series/{series}", (HttpContext context, string study, string series) => wado.RetrieveAsync(context, study, series, null));
        app.MapGet(root + "/studies/{study}/series/{series}/instances/{instance}", (HttpContext context, string study, string series, string instance) =>
            wado.RetrieveAsync(context, study, series, instance));
        if (options.DicomWeb.ViewerEnabled)
        {
            var web = options.DicomWeb;
            var signIn = web.Authentication == DicomWebAuthentication.Jwt ? new OhifSignIn(web.Authority, web.ViewerClientId.Length > 0 ? web.ViewerClientId : web.Audience) : null;
            var viewer = await OhifViewer.OpenAsync(web.ViewerDirectory, viewerBase, root, signIn, Path.Combine(options.DataDirectory, ".cache", "viewer"), logger, ct).ConfigureAwait(false);
            viewer.Map(app, viewerBase);
        }

        await app.StartAsync(ct).ConfigureAwait(false);

        var bound = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        var url = new UriBuilder(configured) { Port = bound.Port, Path = root }.Uri;
        publicRoot = url.ToString().TrimEnd('/');
        DicomWebLog.Listening(logger, publicRoot);
        if (options.DicomWeb.Authentication == DicomWebAuthentication.None && !configured.IsLoopback && !(IPAddress.TryParse(configured.Host, out var host) && IPAddress.IsLoopback(host)))
            DicomWebLog.OpenWithoutAuthentication(logger, publicRoot);
        return new DicomWebServer(app, url);
    }

    /// <summary>/viewer beside the service root: /viewer for /dicomweb (or for the site root), /pacs/viewer for /pacs/dicomweb.</summary>
    internal static string ViewerBase(string root)
    {
        var slash = root.LastIndexOf('/');
        return (slash > 0 ? root[..slash] : "") + "/viewer";
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
