using System.Text;
using System.Text.Json;
using MedfusionDicom.Gateway.DicomWeb;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace MedfusionDicom.Gateway.Viewer;

/// <summary>
/// OHIF at {base}/viewer/, beside the DICOMweb root it reads. The app's config is made here, so that it points at this
/// gateway and claims only what this gateway's DICOMweb does. Paths that are not files of the app are OHIF's own routes
/// and get its page. Every answer carries COOP and COEP, which make the page cross-origin isolated: OHIF's volume
/// rendering needs SharedArrayBuffer, which browsers give only to such pages.
/// </summary>
public sealed class OhifViewer
{
    private static readonly FileExtensionContentTypeProvider ContentTypes = CreateContentTypes();
    private readonly OhifDistribution? _app;
    private readonly string _unavailable;
    private readonly byte[] _config;

    private OhifViewer(OhifDistribution? app, string unavailable, byte[] config)
    {
        _app = app;
        _unavailable = unavailable;
        _config = config;
    }

    /// <summary>
    /// Prepares the viewer from <paramref name="distDirectory"/> (empty: the installed one). A viewer that cannot be
    /// served does not stop the gateway: it is logged once, and /viewer says why with a 503.
    /// </summary>
    /// <param name="signIn">The OpenID Connect issuer and client id that OHIF signs in with, when DICOMweb takes bearer tokens.</param>
    public static async Task<OhifViewer> OpenAsync(string distDirectory, string basePath, string dicomWebRoot, OhifSignIn? signIn, string cacheDirectory, ILogger logger,
        CancellationToken ct)
    {
        var directory = distDirectory.Length > 0 ? Path.GetFullPath(distDirectory) : OhifDistribution.InstalledDirectory();
        var config = Encoding.UTF8.GetBytes(AppConfig(basePath, dicomWebRoot, signIn));
        try
        {
            var app = await OhifDistribution.OpenAsync(directory, basePath, cacheDirectory, ct).ConfigureAwait(false);
            ViewerLog.Serving(logger, app.Version, basePath + "/", app.DistDirectory);
            return new OhifViewer(app, "", config);
        }
        catch (Exception e) when (e is ViewerUnavailableException or IOException or UnauthorizedAccessException or JsonException)
        {
            ViewerLog.Unavailable(logger, e.Message);
            return new OhifViewer(null, e is ViewerUnavailableException ? e.Message : "the viewer's files cannot be read (the gateway's log says why)", config);
        }
    }

    public void Map(WebApplication app, string basePath)
    {
        // Routing matches /viewer and /viewer/ alike; the app's relative URLs need the slash.
        app.MapGet(basePath, (HttpContext context) =>
        {
            if (context.Request.Path.Value!.EndsWith('/')) return ServeAsync(context, "");
            context.Response.Redirect(basePath + "/" + context.Request.QueryString);
            return Task.CompletedTask;
        });
        app.MapGet(basePath + "/app-config.js", (HttpContext context) =>
        {
            Isolate(context.Response);
            context.Response.ContentType = "text/javascript; charset=utf-8";
            context.Response.Headers.CacheControl = "no-cache";
            return context.Response.Body.WriteAsync(_config, context.RequestAborted).AsTask();
        });
        app.MapGet(basePath + "/{**path}", (HttpContext context, string? path) => ServeAsync(context, path ?? ""));
    }

    private async Task ServeAsync(HttpContext context, string path)
    {
        Isolate(context.Response);
        if (_app is null)
        {
            await DicomWebProblem.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "The viewer is not available: " + _unavailable).ConfigureAwait(false);
            return;
        }

        var file = _app.Resolve(path);
        if (file is null)
        {
            // A missing script or image is a 404; anything else is one of OHIF's routes.
            if (Path.HasExtension(path) && !path.EndsWith(".html", StringComparison.OrdinalIgnoreCase))
            {
                await DicomWebProblem.WriteAsync(context, StatusCodes.Status404NotFound, "The viewer has no such file").ConfigureAwait(false);
                return;
            }

            file = _app.IndexPage;
        }

        context.Response.ContentType = ContentTypes.TryGetContentType(file, out var type) ? type : "application/octet-stream";
        // Bundles are named by their content, so they can be kept; the page and the config change with the gateway.
        context.Response.Headers.CacheControl = Path.GetFileName(file) is "index.html" or "manifest.json" or "sw.js" ? "no-cache" : "public, max-age=86400";
        await context.Response.SendFileAsync(file, context.RequestAborted).ConfigureAwait(false);
    }

    private static void Isolate(HttpResponse response)
    {
        response.Headers["Cross-Origin-Opener-Policy"] = "same-origin";
        response.Headers["Cross-Origin-Embedder-Policy"] = "require-corp";
        response.Headers[HeaderNames.XContentTypeOptions] = "nosniff";
    }

    /// <summary>
    /// OHIF's window.config: one DICOMweb data source, this gateway's, with the capabilities its QIDO-RS has (wildcards,
    /// includefield, fuzzy matching); metadata carries BulkDataURIs that name this gateway's bulk data route.
    /// </summary>
    internal static string AppConfig(string basePath, string dicomWebRoot, OhifSignIn? signIn)
    {
        var source = new Dictionary<string, object>
        {
            ["friendlyName"] = "MedfusionDicom gateway",
            ["name"] = "medfusion",
            ["wadoUriRoot"] = dicomWebRoot,
            ["qidoRoot"] = dicomWebRoot,
            ["wadoRoot"] = dicomWebRoot,
            ["qidoSupportsIncludeField"] = QidoRs.SupportsIncludeField,
            ["supportsFuzzyMatching"] = QidoRs.SupportsFuzzyMatching,
            ["supportsWildcard"] = true,
            ["imageRendering"] = "wadors",
            ["thumbnailRendering"] = "wadors",
            ["enableStudyLazyLoad"] = true,
            ["supportsReject"] = false,
            ["staticWado"] = false,
            ["singlepart"] = "bulkdata,video",
            ["omitQuotationForMultipartRequest"] = true,
            ["bulkDataURI"] = new Dictionary<string, object> { ["enabled"] = true },
        };
        var config = new Dictionary<string, object>
        {
            ["routerBasename"] = basePath,
            ["showStudyList"] = true,
            ["extensions"] = Array.Empty<object>(),
            ["modes"] = Array.Empty<object>(),
            ["customizationService"] = new Dictionary<string, object>(),
            ["maxNumberOfWebWorkers"] = 3,
            ["showWarningMessageForCrossOrigin"] = false,
            ["showCPUFallbackMessage"] = true,
            ["showLoadingIndicator"] = true,
            ["strictZSpacingForVolumeViewport"] = true,
            ["defaultDataSourceName"] = "medfusion",
            ["investigationalUseDialog"] = new Dictionary<string, object> { ["option"] = "never" },
            ["dataSources"] = new object[]
            {
                new Dictionary<string, object>
                {
                    ["namespace"] = "@ohif/extension-default.dataSourcesModule.dicomweb",
                    ["sourceName"] = "medfusion",
                    ["configuration"] = source,
                },
            },
        };
        if (signIn is not null)
            config["oidc"] = new object[]
            {
                new Dictionary<string, object>
                {
                    ["authority"] = signIn.Authority,
                    ["client_id"] = signIn.ClientId,
                    ["redirect_uri"] = basePath + "/callback",
                    ["post_logout_redirect_uri"] = basePath + "/",
                    ["response_type"] = "code",
                    ["scope"] = "openid",
                },
            };

        // The roots and sign-in return paths are on the page's own origin, whatever host name the browser used.
        return "// Made by the MedfusionDicom gateway for its own DICOMweb service.\nwindow.config = "
            + JsonSerializer.Serialize(config, new JsonSerializerOptions { WriteIndented = true }) + ";\n"
            + "for (const source of window.config.dataSources)\n"
            + "  for (const key of ['wadoUriRoot', 'qidoRoot', 'wadoRoot']) source.configuration[key] = window.location.origin + source.configuration[key];\n"
            + "for (const provider of window.config.oidc ?? [])\n"
            + "  for (const key of ['redirect_uri', 'post_logout_redirect_uri']) provider[key] = window.location.origin + provider[key];\n";
    }

    private static FileExtensionContentTypeProvider CreateContentTypes()
    {
        var provider = new FileExtensionContentTypeProvider();
        provider.Mappings[".wasm"] = "application/wasm";
        provider.Mappings[".mjs"] = "text/javascript";
        provider.Mappings[".js"] = "text/javascript";
        return provider;
    }
}

/// <summary>How OHIF signs in when DICOMweb takes bearer tokens: the OpenID Connect issuer and the viewer's client id.</summary>
public sealed record OhifSignIn(string Authority, string ClientId);
