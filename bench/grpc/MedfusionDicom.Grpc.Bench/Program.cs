// Transport benchmark: unary round trips and 16 MiB echoes, our server and client against grpc-js, on this machine.
// Usage: dotnet run -c Release --project bench/grpc/MedfusionDicom.Grpc.Bench [-- --seconds N]
// Each server runs in its own process (ours: this program with "serve"; grpc-js: tests/interop/node/server.js),
// and so does each client side of grpc-js (bench/grpc/grpc-js-bench.js), so neither side gets the other's threads.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text.Json;
using Google.Protobuf;
using MedfusionDicom.Grpc;
using MedfusionDicom.Grpc.Client;
using MedfusionDicom.Grpc.Server;
using MedfusionDicom.Grpc.Tests.Echo;

var echo = new Method<EchoRequest, EchoResponse>(
    MethodType.Unary, "medfusion.test.v1.EchoService", "Echo", Marshallers.Create(EchoRequest.Parser), Marshallers.Create(EchoResponse.Parser));

if (args is ["serve"])
{
    await ServeAsync();
    return;
}

var seconds = args is ["--seconds", var value] ? double.Parse(value, CultureInfo.InvariantCulture) : 5;
var repoRoot = typeof(Program).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepoRoot").Value!;
await RunToEndAsync("bash", [Path.Combine(repoRoot, "scripts", "bootstrap-node")]);

using var ourServer = StartChild(Environment.ProcessPath!, Environment.ProcessPath!.EndsWith("dotnet", StringComparison.Ordinal)
    ? [typeof(Program).Assembly.Location, "serve"] : ["serve"]);
using var nodeServer = StartChild("node", [Path.Combine(repoRoot, "tests", "interop", "node", "server.js")]);
var ourTarget = $"127.0.0.1:{await ReadPortAsync(ourServer)}";
var nodeTarget = $"127.0.0.1:{await ReadPortAsync(nodeServer)}";

// Both servers get JIT-warm (and grpc-js's V8-warm) before anything is measured.
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
        ("ours → ours", () => RunOursAsync(ourTarget, payloadBytes, concurrency)),
        ("grpc-js → grpc-js", () => RunNodeAsync(nodeTarget, payloadBytes, concurrency)),
        ("ours → grpc-js", () => RunOursAsync(nodeTarget, payloadBytes, concurrency)),
        ("grpc-js → ours", () => RunNodeAsync(ourTarget, payloadBytes, concurrency)),
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

async Task<(long Calls, double Seconds)> RunOursAsync(string target, int payloadBytes, int concurrency)
{
    using var channel = GrpcChannel.ForAddress($"http://{target}");
    var request = new EchoRequest { Text = "x", Payload = ByteString.CopyFrom(new byte[payloadBytes]) };
    await MeasureAsync(Math.Min(1, seconds / 3));
    return await MeasureAsync(seconds);

    async Task<(long Calls, double Seconds)> MeasureAsync(double duration)
    {
        long calls = 0;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (watch.Elapsed.TotalSeconds < duration)
            {
                await channel.UnaryAsync(echo, request);
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

async Task ServeAsync()
{
    var options = new GrpcServerOptions();
    options.Endpoints.Add(new GrpcEndpoint(new IPEndPoint(IPAddress.Loopback, 0)));
    var service = ServiceDefinition.CreateBuilder("medfusion.test.v1.EchoService")
        .AddUnary(echo, (request, _) => Task.FromResult(new EchoResponse { Text = request.Text, Payload = request.Payload }))
        .Build();
    await using var server = await GrpcServer.StartAsync(options, [service]);
    Console.WriteLine($"LISTENING {server.Addresses[0].Port}");
    await Console.In.ReadToEndAsync(); // the parent closes stdin to stop us
}

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
