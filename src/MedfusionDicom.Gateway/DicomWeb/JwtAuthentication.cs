using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;

namespace MedfusionDicom.Gateway.DicomWeb;

/// <summary>
/// Gateway:DicomWeb:Authentication = Jwt. Every request carries "Authorization: Bearer TOKEN", a JWT that Authority
/// signed for Audience, as OHIF sends after its OpenID Connect sign-in. The issuer's keys come from its discovery
/// document. A preflight (OPTIONS) passes, as with ApiKey.
/// </summary>
internal sealed class JwtAuthentication(ILogger logger)
{
    public static void AddTo(IServiceCollection services, DicomWebOptions options) =>
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(jwt =>
        {
            jwt.Authority = options.Authority;
            jwt.Audience = options.Audience;
            // The settings allow http only for a loopback issuer (GatewayOptionsValidator).
            jwt.RequireHttpsMetadata = new Uri(options.Authority).Scheme == Uri.UriSchemeHttps;
            jwt.MapInboundClaims = false;
        });

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (HttpMethods.IsOptions(context.Request.Method))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var result = await context.AuthenticateAsync(JwtBearerDefaults.AuthenticationScheme).ConfigureAwait(false);
        if (result.Succeeded)
        {
            context.User = result.Principal;
            await next(context).ConfigureAwait(false);
            return;
        }

        // The client learns what kind of problem its token has; the library's own message (which may name keys and
        // claims) goes to the log only.
        var reason = result.Failure switch
        {
            null => "this service needs a bearer token (Authorization: Bearer ...)",
            SecurityTokenExpiredException or SecurityTokenNotYetValidException => "the bearer token is outside its lifetime",
            SecurityTokenInvalidAudienceException => "the bearer token is not for this service's audience",
            SecurityTokenInvalidIssuerException => "the bearer token is from another issuer",
            SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => "the bearer token's signature is not the issuer's",
            InvalidOperationException => "the bearer token cannot be checked now: the issuer's keys could not be fetched",
            _ => "the bearer token is not valid",
        };
        DicomWebLog.Unauthenticated(logger, context.Request.Method, context.Request.Path, context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
            result.Failure is null ? reason : $"{reason} ({result.Failure.Message})");
        await context.ChallengeAsync(JwtBearerDefaults.AuthenticationScheme).ConfigureAwait(false);
        await DicomWebProblem.WriteAsync(context, StatusCodes.Status401Unauthorized, reason).ConfigureAwait(false);
    }
}
