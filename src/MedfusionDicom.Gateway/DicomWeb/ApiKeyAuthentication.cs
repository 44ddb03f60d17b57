using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Gateway.DicomWeb;

/// <summary>
/// Gateway:DicomWeb:Authentication = ApiKey. Every request carries a key in ApiKeyHeader. The settings hold only each
/// key's SHA-256, so a copied settings file gives no key away. A preflight (OPTIONS) passes: browsers send it without
/// credentials, and CORS, which runs first, answers it.
/// </summary>
internal sealed class ApiKeyAuthentication
{
    private readonly string _header;
    private readonly byte[][] _keyHashes;
    private readonly ILogger _logger;

    public ApiKeyAuthentication(string header, IEnumerable<string> keySha256Hex, ILogger logger)
    {
        _header = header;
        _keyHashes = keySha256Hex.Select(Convert.FromHexString).ToArray();
        _logger = logger;
    }

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var presented = context.Request.Headers[_header].ToString();
        if (HttpMethods.IsOptions(context.Request.Method) || (presented.Length > 0 && IsAccepted(presented)))
        {
            await next(context).ConfigureAwait(false);
            return;
        }
        var reason = presented.Length == 0 ? $"this service needs an API key in the {_header} header" : "the API key is not one this service accepts";
        DicomWebLog.Unauthenticated(_logger, context.Request.Method, context.Request.Path, context.Connection.RemoteIpAddress?.ToString() ?? "unknown", reason);
        context.Response.Headers.WWWAuthenticate = $"ApiKey header=\"{_header}\"";
        await DicomWebProblem.WriteAsync(context, StatusCodes.Status401Unauthorized, reason).ConfigureAwait(false);
    }

    /// <summary>Compares with every accepted hash in constant time, so the answer's timing tells nothing of a key.</summary>
    private bool IsAccepted(string key)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        var accepted = false;
        foreach (var known in _keyHashes) accepted |= CryptographicOperations.FixedTimeEquals(known, hash);
        return accepted;
    }
}
