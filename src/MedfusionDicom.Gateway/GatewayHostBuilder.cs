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
    public static IConfiguration LoadConfiguration(string shippedSettings, string? operatorSettings)
    {
        var builder = new ConfigurationBuilder().AddJsonFile(shippedSettings, optional: false);
        if (operatorSettings is not null)
        {
            if (!File.Exists(operatorSettings)) throw new FileNotFoundException($"the settings file {operatorSettings} does not exist", operatorSettings);
            builder.AddJsonFile(Path.GetFullPath(operatorSettings), optional: false);
        }

        return builder.AddEnvironmentVariables("MEDFUSION_").Build();
    }

    /// <summary>The settings, bound and validated (an <see cref="OptionsValidationException"/> names every bad key).</summary>
    public static GatewayOptions BindOptions(IConfiguration configuration, Action<GatewayOptions>? adjust = null)
    {
        var options = configuration.GetSection(GatewayOptions.SectionName).Get<GatewayOptions>() ?? new GatewayOptions();
        adjust?.Invoke(options);
        var result = new GatewayOptionsValidator().Validate(null, options);
        if (result.Failed) throw new OptionsValidationException(GatewayOptions.SectionName, typeof(GatewayOptions), result.Failures);
        return options;
    }

    public static IHost Build(GatewayOptions options, Action<ILoggingBuilder>? logging = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        if (logging is null) builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        else logging(builder.Logging);
        builder.Services.AddSingleton(Options.Create(options));
        builder.Services.AddSingleton<GatewayService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<GatewayService>());
        return builder.Build();
    }
}
