using System.Text.Json;
using System.Text.Json.Nodes;
using MedfusionDicom.Dicom.Codecs;
using MedfusionDicom.Worker.Models;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MedfusionDicom.Gateway;

/// <summary>Builds the gateway's Generic Host from configuration whose "Gateway" section holds the settings.</summary>
public static class GatewayHostBuilder
{
    /// <summary>
    /// The settings in the documented order, each overriding the one before: the shipped appsettings.json, the
    /// operator's file (optional), then MEDFUSION_-prefixed environment variables (MEDFUSION_Gateway__Dimse__Port).
    /// </summary>
    /// <remarks>
    /// .NET configuration merges lists item by item, so an operator's one route would only overwrite the fields of the
    /// shipped first route and keep the rest (a Modality list of [MR] over [CR, DX] would read [MR, DX]). A list the
    /// operator's file gives (Workers, Destinations, Routes, Dimse:AllowedCallers) therefore replaces the shipped one
    /// whole. Environment variables still merge item by item, as .NET admins know them to.
    /// </remarks>
    public static IConfiguration LoadConfiguration(string shippedSettings, string? operatorSettings)
    {
        var shipped = JsonNode.Parse(File.ReadAllText(shippedSettings))?.AsObject() ?? new JsonObject();
        JsonObject? own = null;
        if (operatorSettings is not null)
        {
            if (!File.Exists(operatorSettings)) throw new FileNotFoundException($"the settings file {operatorSettings} does not exist", operatorSettings);
            try
            {
                own = JsonNode.Parse(File.ReadAllText(operatorSettings), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })?.AsObject();
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"the settings file {operatorSettings} is not valid JSON: {ex.Message}", ex);
            }

            foreach (var list in ReplacedLists)
            {
                if (Find(own, list) is not null) Remove(shipped, list);
            }
        }

        var builder = new ConfigurationBuilder().AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(shipped.ToJsonString())));
        if (own is not null) builder.AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(own.ToJsonString())));
        return builder.AddEnvironmentVariables("MEDFUSION_").Build();
    }

    private static readonly string[][] ReplacedLists =
        [["Gateway", "Workers"], ["Gateway", "Destinations"], ["Gateway", "Routes"], ["Gateway", "Dimse", "AllowedCallers"]];

    /// <summary>A property by path, with JSON's keys compared as .NET configuration compares them (ignoring case).</summary>
    private static JsonNode? Find(JsonObject? node, string[] path)
    {
        JsonNode? current = node;
        foreach (var key in path)
        {
            if (current is not JsonObject o) return null;
            current = o.FirstOrDefault(p => string.Equals(p.Key, key, StringComparison.OrdinalIgnoreCase)).Value;
        }

        return current;
    }

    private static void Remove(JsonObject node, string[] path)
    {
        if (Find(node, path[..^1]) is JsonObject parent)
        {
            foreach (var key in parent.Where(p => string.Equals(p.Key, path[^1], StringComparison.OrdinalIgnoreCase)).Select(p => p.Key).ToList())
                parent.Remove(key);
        }
    }

    /// <summary>The settings, bound and validated (an <see cref="OptionsValidationException"/> names every bad key).</summary>
    public static GatewayOptions BindOptions(IConfiguration configuration, Action<GatewayOptions>? adjust = null)
    {
        var options = configuration.GetSection(GatewayOptions.SectionName).Get<GatewayOptions>() ?? new GatewayOptions();
        if (string.IsNullOrEmpty(options.ModelsDirectory)) options.ModelsDirectory = BundledModels.Folder();
        if (string.IsNullOrEmpty(options.NodeName)) options.NodeName = Environment.MachineName;
        adjust?.Invoke(options);
        var result = new GatewayOptionsValidator().Validate(null, options);
        if (result.Failed) throw new OptionsValidationException(GatewayOptions.SectionName, typeof(GatewayOptions), result.Failures);
        return options;
    }

    public static IHost Build(GatewayOptions options, Action<ILoggingBuilder>? logging = null)
    {
        // The gateway is a host: compressed frames that it serves, renders or transcodes are decoded by GDCM.
        GdcmCodecs.RegisterDefault();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        // The embedded worker's Kestrel would log every gRPC call; the gateway's own events say what happened.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        if (logging is null) builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        else logging(builder.Logging);
        builder.Services.AddSingleton(Options.Create(options));
        builder.Services.AddSingleton<GatewayService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<GatewayService>());
        return builder.Build();
    }
}
