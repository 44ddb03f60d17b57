using System.Diagnostics;
using System.Text.Json;
using MedfusionDicom.Worker.Models;

namespace MedfusionDicom.Worker.Tests;

/// <summary>A real gRPC peer (@grpc/grpc-js, installed by scripts/bootstrap-node) as a client of the worker.</summary>
public class GrpcJsClientTests
{
    [Fact]
    public async Task Grpc_js_lists_models_streams_a_denoise_and_reads_errors()
    {
        await using var w = await WorkerFixture.StartAsync(null, StepModel.Restoration("dn", InferenceTask.Denoise));
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "MedfusionDicom.sln"))) root = Path.GetDirectoryName(root)!;
        var nodeDir = Path.Combine(root, "tests", "interop", "node");
        if (!Directory.Exists(Path.Combine(nodeDir, "node_modules", "@grpc", "grpc-js")))
        {
            using var bootstrap = Process.Start("bash", [Path.Combine(root, "scripts", "bootstrap-node")]);
            await bootstrap.WaitForExitAsync();
            Assert.Equal(0, bootstrap.ExitCode);
        }
        var address = w.Server.Addresses[0];
        var psi = new ProcessStartInfo("node", [Path.Combine(nodeDir, "worker-client.js"), $"{address.Host}:{address.Port}", "dn"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = nodeDir,
        };
        using var node = Process.Start(psi)!;
        var output = await node.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await node.WaitForExitAsync();
        Assert.True(node.ExitCode == 0, output + await node.StandardError.ReadToEndAsync());
        using var doc = JsonDocument.Parse(output);
        var r = doc.RootElement;
        Assert.Equal(["dn:denoise:8x8"], r.GetProperty("models").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal([1, 2, 3, 4], r.GetProperty("progress").EnumerateArray().Select(e => e.GetInt32()));
        // The test model negates in [-1, 1]: 0..63 comes back as 63, 62, 61, ...
        Assert.Equal([63, 62, 61], r.GetProperty("images")[0].EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(5, r.GetProperty("bad").GetProperty("code").GetInt32()); // NOT_FOUND
        Assert.Contains("no model named 'no-such-model'", r.GetProperty("bad").GetProperty("details").GetString());
    }
}
