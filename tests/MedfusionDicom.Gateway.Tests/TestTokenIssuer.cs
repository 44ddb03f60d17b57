using System.Security.Claims;
using System.Security.Cryptography;
using MedfusionDicom.Dimse.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>
/// An OpenID Connect issuer on loopback, as far as a resource server sees one: a discovery document and its signing
/// keys (JWKS). It signs tokens with its RSA key, or with a key it does not publish.
/// </summary>
internal sealed class TestTokenIssuer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly RsaSecurityKey _key = new(RSA.Create(2048)) { KeyId = "issuer-key" };
    private readonly RsaSecurityKey _unpublished = new(RSA.Create(2048)) { KeyId = "issuer-key" };

    private TestTokenIssuer(WebApplication app, string authority)
    {
        _app = app;
        Authority = authority;
    }

    public string Authority { get; }

    public static async Task<TestTokenIssuer> StartAsync()
    {
        var port = Tools.FreePort();
        var authority = $"http://127.0.0.1:{port}/realms/test";
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        var issuer = new TestTokenIssuer(app, authority);
        app.MapGet("/realms/test/.well-known/openid-configuration", () => Microsoft.AspNetCore.Http.Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = authority,
            ["jwks_uri"] = authority + "/keys",
            ["authorization_endpoint"] = authority + "/auth",
            ["token_endpoint"] = authority + "/token",
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        }));
        app.MapGet("/realms/test/keys", () =>
        {
            var parameters = issuer._key.Rsa.ExportParameters(false);
            return Microsoft.AspNetCore.Http.Results.Json(new Dictionary<string, object>
            {
                ["keys"] = new[]
                {
                    new Dictionary<string, string>
                    {
                        ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = issuer._key.KeyId,
                        ["n"] = Base64UrlEncoder.Encode(parameters.Modulus), ["e"] = Base64UrlEncoder.Encode(parameters.Exponent),
                    },
                },
            });
        });
        await app.StartAsync();
        return issuer;
    }

    /// <summary>A token for <paramref name="audience"/>, valid from now for <paramref name="lifetime"/> (negative: expired), signed by the published key unless told otherwise.</summary>
    public string Token(string audience, TimeSpan lifetime, bool publishedKey = true, string? issuer = null)
    {
        var now = DateTime.UtcNow;
        var notBefore = lifetime < TimeSpan.Zero ? now + lifetime - TimeSpan.FromMinutes(10) : now.AddMinutes(-1);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? Authority,
            Audience = audience,
            Subject = new ClaimsIdentity([new Claim("sub", "radiologist-1")]),
            NotBefore = notBefore,
            IssuedAt = notBefore,
            Expires = now + lifetime,
            SigningCredentials = new SigningCredentials(publishedKey ? _key : _unpublished, SecurityAlgorithms.RsaSha256),
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
