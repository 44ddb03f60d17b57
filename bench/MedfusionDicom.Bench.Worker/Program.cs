// Worker throughput: Denoise requests over gRPC (Grpc.Net.Client and Grpc.AspNetCore as our libraries set them up, one process, loopback), at concurrency 1 and 8,
// with dynamic batching on and off, on a real model folder. Prints a Markdown table for bench/RESULTS.md.
// Usage: dotnet run -c Release --project bench/MedfusionDicom.Bench.Worker -- [--model DIR] [--steps S] [--requests N]
using System.Diagnostics;
using System.Net;
using Google.Protobuf;
using Medfusion.V1;
using Grpc.Core;
using MedfusionDicom.Grpc.Client;
using MedfusionDicom.Grpc.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using MedfusionDicom.Worker.Models;
using MedfusionDicom.Worker.Scheduling;
using MedfusionDicom.Worker.Service;

string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
var modelDir = Arg("--model", "models/cdiff-cxr-denoise");
var steps = uint.Parse(Arg("--steps", "10"));
var requests = int.Parse(Arg("--requests", "16"));
// --memory glibc: glibc's malloc defaults, to measure what CpuMemory.KeepFreedMemory (the hosts' default) gives.
var memory = Arg("--memory", "keep-freed");
if (memory == "keep-freed") MedfusionDicom.Torch.CpuMemory.KeepFreedMemory();
else if (memory != "glibc") throw new ArgumentException($"--memory is keep-freed or glibc, not {memory}");
if (!Directory.Exists(modelDir))
{
    Console.Error.WriteLine($"bench: model folder {modelDir} not found (train or fetch it, or pass --model DIR)");
    return 1;
}

using var model = new DiffusionModelLoader(device: Arg("--device", "auto")).Load(modelDir);
model.WarmUp();
var d = model.Descriptor;
var rng = new Random(1);
var pixels = new byte[d.InputWidth * d.InputHeight];
rng.NextBytes(pixels);
var request = new DenoiseRequest
{
    Model = d.Name,
    Image = new Image { Width = (uint)d.InputWidth, Height = (uint)d.InputHeight, Channels = 1, PixelType = PixelType.Uint8, Data = ByteString.CopyFrom(pixels) },
    Sampler = new SamplerOptions { Steps = steps, Sampler = "ddim" },
};

Console.WriteLine($"| batching | concurrency | images/s | median latency (s) | mean batch |");
Console.WriteLine($"|---|---:|---:|---:|---:|");
foreach (var batching in new[] { false, true })
foreach (var concurrency in new[] { 1, 8 })
{
    var (rate, median, meanBatch) = await RunAsync(batching, concurrency);
    Console.WriteLine($"| {(batching ? "on" : "off")} | {concurrency} | {rate:F2} | {median:F2} | {meanBatch:F1} |");
}
Console.WriteLine($"\nmodel {d.Name} ({d.Width}x{d.Height}), {steps} DDIM steps a request, {requests} requests a row, {Environment.ProcessorCount} cores, malloc: {memory}, device: {d.Device}");
return 0;

async Task<(double Rate, double MedianLatency, double MeanBatch)> RunAsync(bool batching, int concurrency)
{
    var counting = new CountingModel(model);
    var catalog = new ModelCatalog([counting]);
    await using var scheduler = new InferenceScheduler(new SchedulerOptions { DynamicBatching = batching, MaxBatchSize = 8, MaxBatchDelay = TimeSpan.FromMilliseconds(15) });
    var service = new InferenceWorkerService(catalog, scheduler);
    var options = new GrpcServerOptions();
    options.Endpoints.Add(new GrpcEndpoint(new IPEndPoint(IPAddress.Loopback, 0)));
    await using var server = await GrpcServer.StartAsync(options, s => s.AddSingleton(service), e => e.MapGrpcService<InferenceWorkerService>());
    using var channel = GrpcClientChannel.ForAddress(server.Addresses[0]);
    var worker = new InferenceWorker.InferenceWorkerClient(channel.CallInvoker);
    var latencies = new List<double>();
    var next = 0;
    var total = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async client =>
    {
        while (Interlocked.Increment(ref next) <= requests)
        {
            var sw = Stopwatch.StartNew();
            using var call = worker.Denoise(request);
            await foreach (var update in call.ResponseStream.ReadAllAsync()) { }
            lock (latencies) latencies.Add(sw.Elapsed.TotalSeconds);
        }
    }));
    var elapsed = total.Elapsed.TotalSeconds;
    latencies.Sort();
    return (requests / elapsed, latencies[latencies.Count / 2], counting.Batches == 0 ? 0 : (double)counting.Items / counting.Batches);
}

/// <summary>Passes through to the real model and counts the batch sizes it was given.</summary>
sealed class CountingModel(IInferenceModel inner) : IInferenceModel
{
    public int Batches;
    public int Items;
    public ModelDescriptor Descriptor => inner.Descriptor;

    public IReadOnlyList<float[][]> Run(IReadOnlyList<InferenceInput> inputs, SamplerSettings settings, Action<int, int> onStep, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Batches);
        Interlocked.Add(ref Items, inputs.Count);
        return inner.Run(inputs, settings, onStep, cancellationToken);
    }

    public void WarmUp() => inner.WarmUp();

    public void Dispose() { }
}
