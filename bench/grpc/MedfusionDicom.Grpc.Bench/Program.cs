// Transport benchmark: unary round trips and 16 MiB echoes, our gRPC stack against grpc-js, on this machine.
// Usage: dotnet run -c Release --project bench/grpc/MedfusionDicom.Grpc.Bench [-- --seconds N]
// Each server runs in its own process (ours: this program with "serve-new" or "serve-old"; grpc-js:
// tests/interop/node/server.js), and so does each client side of grpc-js (bench/grpc/grpc-js-bench.js), so neither
// side gets the other's threads. "new" is Grpc.AspNetCore and Grpc.Net.Client; "old" is our retired HTTP/2 layer.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using MedfusionDicom.Grpc.Tests.Echo;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Old = MedfusionDicom.Grpc;

var oldEcho = new Old.Method<EchoRequest, EchoResponse>(
    Old.MethodType.Unary, "medfusion.test.v1.EchoService", "Echo", Old.Marshallers.Create(EchoRequest.Parser), Old.Marshallers.Create(EchoResponse.Parser));
const int MaxMessageSize = 64 * 1024 * 1024;

switch (args)
{
    case ["serve-new"]:
        await ServeNewAsync();
        return;
    case ["serve-old"]:
        await ServeOldAsync();
        return;
}

var seconds = args is ["--seconds", var value] ? double.Parse(value, CultureInfo.InvariantCulture) : 5;
var repoRoot = typeof(EchoBench).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepoRoot").Value!;
await RunToEndAsync("bash", [Path.Combine(repoRoot, "scripts", "bootstrap-node")]);

using var newServer = StartServer("serve-new");
using var oldServer = StartServer("serve-old");
using var nodeServer = StartChild("node", [Path.Combine(repoRoot, "tests", "interop", "node", "server.js")]);
var newTarget = $"127.0.0.1:{await ReadPortAsync(newServer)}";
var oldTarget = $"127.0.0.1:{await ReadPortAsync(oldServer)}";
var nodeTarget = $"127.0.0.1:{await ReadPortAsync(nodeServer)}";

// Every server gets JIT-warm (and grpc-js's V8-warm) before anything is measured.
await RunNewAsync(newTarget, 1024 * 1024, 8);
await RunOldAsync(oldTarget, 1024 * 1024, 8);
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
        ("Grpc.Net.Client → Grpc.AspNetCore", () => RunNewAsync(newTarget, payloadBytes, concurrency)),
        ("old layer → old layer", () => RunOldAsync(oldTarget, payloadBytes, concurrency)),
        ("grpc-js → grpc-js", () => RunNodeAsync(nodeTarget, payloadBytes, concurrency)),
        ("Grpc.Net.Client → grpc-js", () => RunNewAsync(nodeTarget, payloadBytes, concurrency)),
        ("grpc-js → Grpc.AspNetCore", () => RunNodeAsync(newTarget, payloadBytes, concurrency)),
    })
    {
        var (calls, elapsed) = await result();
        var callsPerSecond = calls / elapsed;
        var mibPerSecond = callsPerSecond * 2.0 * payloadBytes / (1024 * 1024);
        Console.WriteLine(FormattableString.Invariant($"| {name} | {pair} | {callsPerSecond:F0} | {(payloadBytes > 0 ? mibPerSecond.ToString("F0", CultureInfo.InvariantCulture) : "–")} |"));
    }
}

foreach (var server in new[] { newServer, oldServer, nodeServer })
{
    server.StandardInput.Close();
}

await Task.WhenAll(newServer.WaitForExitAsync(), oldServer.WaitForExitAsync(), nodeServer.WaitForExitAsync());

Task<(long Calls, double Seconds)> RunNewAsync(string target, int payloadBytes, int concurrency)
{
    var channel = GrpcChannel.ForAddress($"http://{target}", new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, InitialHttp2StreamWindowSize = 8 * 1024 * 1024 },
        MaxReceiveMessageSize = MaxMessageSize,
        MaxSendMessageSize = MaxMessageSize,
    });
    var client = new EchoService.EchoServiceClient(channel);
    var request = new EchoRequest { Text = "x", Payload = ByteString.CopyFrom(new byte[payloadBytes]) };
    return MeasureClientAsync(async () => await client.EchoAsync(request), concurrency, channel);
}

Task<(long Calls, double Seconds)> RunOldAsync(string target, int payloadBytes, int concurrency)
{
    var channel = Old.Client.GrpcChannel.ForAddress($"http://{target}");
    var request = new EchoRequest { Text = "x", Payload = ByteString.CopyFrom(new byte[payloadBytes]) };
    return MeasureClientAsync(() => channel.UnaryAsync(oldEcho, request), concurrency, channel);
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

// The same Kestrel settings as the worker: HTTP/2 only, large flow-control windows, no body size or rate limits.
async Task ServeNewAsync()
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    builder.WebHost.ConfigureKestrel(kestrel =>
    {
        kestrel.Limits.MaxRequestBodySize = null;
        kestrel.Limits.Http2.InitialConnectionWindowSize = 16 * 1024 * 1024;
        kestrel.Limits.Http2.InitialStreamWindowSize = 8 * 1024 * 1024;
        kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2);
    });
    builder.Services.AddGrpc(grpc =>
    {
        grpc.MaxReceiveMessageSize = MaxMessageSize;
        grpc.MaxSendMessageSize = MaxMessageSize;
    });
    await using var app = builder.Build();
    app.MapGrpcService<EchoBench>();
    await app.StartAsync();
    Console.WriteLine($"LISTENING {new Uri(app.Urls.First()).Port}");
    await Console.In.ReadToEndAsync(); // the parent closes stdin to stop us
    await app.StopAsync();
}

async Task ServeOldAsync()
{
    var options = new Old.Server.GrpcServerOptions();
    options.Endpoints.Add(new Old.Server.GrpcEndpoint(new IPEndPoint(IPAddress.Loopback, 0)));
    var service = Old.Server.ServiceDefinition.CreateBuilder("medfusion.test.v1.EchoService")
        .AddUnary(oldEcho, (request, _) => Task.FromResult(new EchoResponse { Text = request.Text, Payload = request.Payload }))
        .Build();
    await using var server = await Old.Server.GrpcServer.StartAsync(options, [service]);
    Console.WriteLine($"LISTENING {server.Addresses[0].Port}");
    await Console.In.ReadToEndAsync();
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
