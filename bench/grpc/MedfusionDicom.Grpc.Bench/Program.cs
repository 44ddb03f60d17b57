// Transport benchmark: unary round trips and 16 MiB echoes, our gRPC stack against grpc-js, on this machine.
// Usage: dotnet run -c Release --project bench/grpc/MedfusionDicom.Grpc.Bench [-- --seconds N]
// Each server runs in its own process (ours: this program with "serve"; grpc-js: tests/interop/node/server.js), and so
// does each client side of grpc-js (bench/grpc/grpc-js-bench.js), so neither side gets the other's threads. Ours is
// Grpc.AspNetCore and Grpc.Net.Client as MedfusionDicom.Grpc.Hosting and .Client set them up (with our interceptors).
// The rows of the retired hand-written HTTP/2 layer in bench/RESULTS.md came from this program at commit f949d3e.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using MedfusionDicom.Grpc.Client;
using MedfusionDicom.Grpc.Hosting;
using MedfusionDicom.Grpc.Tests.Echo;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

if (args is ["serve"])
{
    await ServeAsync();
    return;
}

var seconds = args is ["--seconds", var value] ? double.Parse(value, CultureInfo.InvariantCulture) : 5;
var repoRoot = typeof(EchoBench).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepoRoot").Value!;
await RunToEndAsync("bash", [Path.Combine(repoRoot, "scripts", "bootstrap-node")]);

using var ourServer = StartServer("serve");
using var nodeServer = StartChild("node", [Path.Combine(repoRoot, "tests", "interop", "node", "server.js")]);
var ourTarget = $"127.0.0.1:{await ReadPortAsync(ourServer)}";
var nodeTarget = $"127.0.0.1:{await ReadPortAsync(nodeServer)}";

// Every server gets JIT-warm (and grpc-js's V8-warm) before anything is measured.
await RunOursAsync(ourTarget, 1024 * 1024, 8);
await RunNodeAsync(nodeTarget, 1024 * 1024, 8);

(string Name, int PayloadBytes, int Concurrency)[] scenarios =
[
    ("unary, small message, 1 call in flight", 0, 1),
    ("unary, small message, 32 calls in flight", 0, 32),
    ("unary, 16 MiB request and 16 MiB reply, 1 call in flight", 16 * 1024 * 1024, 1),
];
Console.WriteLine($"| scenario | client → server | calls/s | MiB/s (both directions) |");
Console.WriteLine("|---|---|---:|---:|");
foreach (var (name, payloadBytes, concurrency) in scenarios)
{
    foreach (var (pair, result) in new (string, Func<Task<(long Calls, double Seconds)>>)[]
    {
        ("Grpc.Net.Client → Grpc.AspNetCore", () => RunOursAsync(ourTarget, payloadBytes, concurrency)),
        ("grpc-js → grpc-js", () => RunNodeAsync(nodeTarget, payloadBytes, concurrency)),
        ("Grpc.Net.Client → grpc-js", () => RunOursAsync(nodeTarget, payloadBytes, concurrency)),
        ("grpc-js → Grpc.AspNetCore", () => RunNodeAsync(ourTarget, payloadBytes, concurrency)),
    })
    {
        var (calls, elapsed) = await result();
        var callsPerSecond = calls / elapsed;
        var mibPerSecond = callsPerSecond * 2.0 * payloadBytes / (1024 * 1024);
        Console.WriteLine(FormattableString.Invariant($"| {name} | {pair} | {callsPerSecond:F0} | {(payloadBytes > 0 ? mibPerSecond.ToString("F0", CultureInfo.InvariantCulture) : "–")} |"));
    }
}

ourServer.StandardInput.Close();
nodeServer.StandardInput.Close();
await Task.WhenAll(ourServer.WaitForExitAsync(), nodeServer.WaitForExitAsync());

Task<(long Calls, double Seconds)> RunOursAsync(string target, int payloadBytes, int concurrency)
{
    var channel = GrpcClientChannel.ForAddress($"http://{target}");
    var client = new EchoService.EchoServiceClient(channel.CallInvoker);
    var request = new EchoRequest { Text = "x", Payload = ByteString.CopyFrom(new byte[payloadBytes]) };
    return MeasureClientAsync(async () => await client.EchoAsync(request), concurrency, channel);
}

async Task<(long Calls, double Seconds)> MeasureClientAsync(Func<Task> call, int concurrency, IDisposable channel)
{
    using (channel)
    {
        await MeasureAsync(Math.Min(1, seconds / 3));
        return await MeasureAsync(seconds);
    }

    async Task<(long Calls, double Seconds)> MeasureAsync(double duration)
    {
        long calls = 0;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (watch.Elapsed.TotalSeconds < duration)
            {
                await call();
                Interlocked.Increment(ref calls);
            }
        })));
        return (calls, watch.Elapsed.TotalSeconds);
    }
}

async Task<(long Calls, double Seconds)> RunNodeAsync(string target, int payloadBytes, int concurrency)
{
    var output = await RunToEndAsync("node", [
        Path.Combine(repoRoot, "bench", "grpc", "grpc-js-bench.js"), target,
        payloadBytes.ToString(CultureInfo.InvariantCulture), concurrency.ToString(CultureInfo.InvariantCulture), seconds.ToString(CultureInfo.InvariantCulture)]);
    using var json = JsonDocument.Parse(output);
    return (json.RootElement.GetProperty("calls").GetInt64(), json.RootElement.GetProperty("seconds").GetDouble());
}

// The worker's server: GrpcServer with its defaults (HTTP/2 only, 16 MiB connection and 8 MiB stream windows, 64 MiB messages).
async Task ServeAsync()
{
    var options = new GrpcServerOptions();
    options.Endpoints.Add(new GrpcEndpoint(new IPEndPoint(IPAddress.Loopback, 0)));
    await using var server = await GrpcServer.StartAsync(options, services => services.AddSingleton<EchoBench>(), endpoints => endpoints.MapGrpcService<EchoBench>());
    Console.WriteLine($"LISTENING {server.Addresses[0].Port}");
    await Console.In.ReadToEndAsync(); // the parent closes stdin to stop us
}

Process StartServer(string verb) => StartChild(Environment.ProcessPath!, Environment.ProcessPath!.EndsWith("dotnet", StringComparison.Ordinal)
    ? [typeof(EchoBench).Assembly.Location, verb] : [verb]);

static Process StartChild(string fileName, IEnumerable<string> arguments)
{
    var start = new ProcessStartInfo(fileName, arguments) { RedirectStandardInput = true, RedirectStandardOutput = true };
    return Process.Start(start) ?? throw new InvalidOperationException($"{fileName} did not start");
}

static async Task<int> ReadPortAsync(Process server)
{
    while (await server.StandardOutput.ReadLineAsync() is { } line)
    {
        if (line.StartsWith("LISTENING ", StringComparison.Ordinal))
        {
            return int.Parse(line["LISTENING ".Length..], CultureInfo.InvariantCulture);
        }
    }

    throw new InvalidOperationException("the server exited before listening");
}

static async Task<string> RunToEndAsync(string fileName, IEnumerable<string> arguments)
{
    using var process = Process.Start(new ProcessStartInfo(fileName, arguments) { RedirectStandardOutput = true })
        ?? throw new InvalidOperationException($"{fileName} did not start");
    var output = await process.StandardOutput.ReadToEndAsync();
    await process.WaitForExitAsync();
    return process.ExitCode == 0 ? output : throw new InvalidOperationException($"{fileName} failed with {process.ExitCode}");
}

/// <summary>Grpc.AspNetCore's side of the echo: the request's text and payload back.</summary>
internal sealed class EchoBench : EchoService.EchoServiceBase
{
    public override Task<EchoResponse> Echo(EchoRequest request, ServerCallContext context) =>
        Task.FromResult(new EchoResponse { Text = request.Text, Payload = request.Payload });
}
