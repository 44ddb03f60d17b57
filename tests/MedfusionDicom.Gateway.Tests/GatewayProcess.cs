using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MedfusionDicom.Dimse.Tests;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>`medfusion gateway --config FILE` in a process of its own, so that a test can kill it with SIGKILL and start it again on the same data.</summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Task<string> _output;

    private GatewayProcess(Process process)
    {
        _process = process;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        _output = Task.WhenAll(stdout, stderr).ContinueWith(t => t.Result[0] + t.Result[1], TaskScheduler.Default);
    }

    /// <summary>The gateway's process id.</summary>
    public int Id => _process.Id;

    public static string Cli { get; } = Path.Combine(GatewayRun.RepoRoot, "src", "MedfusionDicom.Cli", "bin", "Release", "net10.0", "medfusion.dll");

    /// <summary>Writes the options as the "Gateway" section of a settings file.</summary>
    public static string WriteSettings(GatewayOptions options, string path)
    {
        File.WriteAllText(path, JsonSerializer.Serialize(new Dictionary<string, GatewayOptions> { ["Gateway"] = options },
            new JsonSerializerOptions { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull, Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } }));
        return path;
    }

    /// <summary>Starts the gateway and waits until its DIMSE port answers.</summary>
    public static async Task<GatewayProcess> StartAsync(string settings, int dimsePort)
    {
        var start = Tools.StartInfo("dotnet", [Cli, "gateway", "--config", settings]);
        start.Environment["MEDFUSION_LOG_DIR"] = Path.GetDirectoryName(settings);
        var gateway = new GatewayProcess(Process.Start(start) ?? throw new InvalidOperationException("medfusion did not start"));
        try
        {
            await Tools.WaitForAsync(async () => gateway._process.HasExited ? throw new InvalidOperationException("the gateway exited: " + await gateway._output)
                : await Tools.PortOpenAsync(dimsePort), TimeSpan.FromSeconds(120), "the gateway's DIMSE port");
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }

        return gateway;
    }

    /// <summary>SIGKILL: no shutdown code runs, as in a power cut of the process.</summary>
    public async Task<string> KillAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        return await _output;
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }

    public static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
