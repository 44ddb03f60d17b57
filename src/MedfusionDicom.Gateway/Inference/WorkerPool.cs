using Grpc.Core;
using Grpc.Health.V1;
using Medfusion.V1;
using MedfusionDicom.Grpc.Client;
using MedfusionDicom.Worker;
using MedfusionDicom.Worker.Models;
using MedfusionDicom.Worker.Scheduling;
using MedfusionDicom.Imaging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;

namespace MedfusionDicom.Gateway.Inference;

/// <summary>What a pipeline asks of a worker for one frame.</summary>
public sealed record InferenceCall(PipelineOptions Pipeline, Image Image, Image? Mask, ulong Seed);

/// <summary>A call that no worker could take or finish; <see cref="Retryable"/> says whether another attempt may succeed.</summary>
public sealed class InferenceFailedException(string message, bool retryable, Exception? inner = null) : Exception(message, inner)
{
    public bool Retryable { get; } = retryable;
}

/// <summary>
/// The workers of Gateway:Workers, reached over gRPC (the embedded one too: it serves on a loopback port of this
/// process, so there is one path). Each is watched through grpc.health.v1; a call goes to the healthy worker serving
/// the model with the least calls outstanding, and waits while all of them are at their MaxConcurrency. Each worker
/// has its own circuit breaker (Polly): when half of its recent calls failed as a broken worker fails (UNAVAILABLE,
/// DEADLINE_EXCEEDED, INTERNAL, ...), it gets no calls for a while, then one trial call, so a sick worker that still
/// reports SERVING stops eating the attempts of every job.
/// </summary>
public sealed class WorkerPool : IAsyncDisposable
{
    private static readonly TimeSpan CallDeadline = TimeSpan.FromMinutes(10);
    private readonly List<WorkerEndpoint> _endpoints = [];
    private readonly List<WorkerHost> _embedded = [];
    private readonly List<WorkerProcess> _children = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _freed = new(0);
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;

    public WorkerPool(ILoggerFactory loggerFactory)
    {
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<WorkerPool>();
    }

    /// <summary>Every model some worker serves, by name.</summary>
    public IReadOnlyDictionary<string, ModelInfo> Models => _endpoints.SelectMany(e => e.Models.Values).GroupBy(m => m.Name).ToDictionary(g => g.Key, g => g.First());

    public IReadOnlyList<(string Name, Uri Address, IReadOnlyCollection<string> Models)> Describe() =>
        _endpoints.Select(e => (e.Name, e.Address, (IReadOnlyCollection<string>)e.Models.Keys.ToList())).ToList();

    /// <summary>The process ids of the gateway's child workers now running (Address "child").</summary>
    public IReadOnlyList<int> ChildProcessIds => _children.Select(c => c.ProcessId).Where(id => id > 0).ToList();

    /// <summary>Connects to every worker (starting the embedded one or the child) and waits until each serves, up to <paramref name="readyTimeout"/>.</summary>
    public async Task StartAsync(IEnumerable<WorkerEndpointOptions> workers, string modelsDirectory, TimeSpan readyTimeout, CancellationToken ct)
    {
        foreach (var worker in workers)
        {
            Uri address;
            if (worker.IsEmbedded)
            {
                // Sampling at a lower CPU priority than the rest of the gateway, so that a modality pushing a study
                // never times out because the embedded worker is busy (bench/RESULTS.md, gateway benchmark 2).
                var options = Options.Create(new WorkerOptions
                {
                    ListenAddress = "127.0.0.1",
                    Port = 0,
                    ModelsDirectory = modelsDirectory,
                    Scheduler = new SchedulerOptions { DynamicBatching = false, Niceness = worker.Niceness },
                    Tiling = new TilingOptions { MemoryBudgetMegabytes = worker.MemoryBudgetMegabytes },
                });
                var host = new WorkerHost(options, [new DiffusionModelLoader(options.Value.Tiling, options.Value.Device)], _loggerFactory);
                _embedded.Add(host);
                await host.StartAsync(ct).ConfigureAwait(false);
                address = (await host.Addresses.WaitAsync(readyTimeout, ct).ConfigureAwait(false))[0];
            }
            else if (worker.IsChild)
            {
                var child = WorkerProcess.Start(worker, modelsDirectory, _logger);
                _children.Add(child);
                address = child.Address;
            }
            else
            {
                address = new Uri(worker.Address);
            }

            var channel = GrpcClientChannel.ForAddress(address, new GrpcClientOptions { LoggerFactory = _loggerFactory });
            var endpoint = new WorkerEndpoint(worker.Name, address, channel, worker.MaxConcurrency, _logger);
            _endpoints.Add(endpoint);
            await endpoint.WaitUntilServingAsync(readyTimeout, ct).ConfigureAwait(false);
            GatewayLog.WorkerReady(_logger, endpoint.Name, address.ToString(), string.Join(", ", endpoint.Models.Keys.Order()));
            _ = WatchAsync(endpoint);
        }
    }

    /// <summary>Runs one frame through the pipeline's model on the least busy worker that serves it; returns the image and the worker's name.</summary>
    public async Task<(Image Image, string Worker)> RunAsync(InferenceCall call, CancellationToken ct)
    {
        var model = call.Pipeline.Model;
        if (!_endpoints.Any(e => e.Models.ContainsKey(model)))
            throw new InferenceFailedException($"no worker serves model '{model}'", retryable: false);
        while (true)
        {
            var endpoint = Take(model);
            if (endpoint is null)
            {
                // Every worker for this model is busy or unhealthy: wait for a call to end (or a health change), then look again.
                await _freed.WaitAsync(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
                continue;
            }

            try
            {
                var deadline = DateTime.UtcNow + CallDeadline;
                return (await endpoint.Breaker.ExecuteAsync(async token => await endpoint.RunAsync(call, deadline, token).ConfigureAwait(false), ct).ConfigureAwait(false), endpoint.Name);
            }
            catch (BrokenCircuitException)
            {
                // The breaker opened between Take and the call: another worker (or this one, later) takes it.
                continue;
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.InvalidArgument or StatusCode.NotFound or StatusCode.FailedPrecondition or StatusCode.OutOfRange)
            {
                throw new InferenceFailedException($"worker {endpoint.Name} refused the image: {ex.Status.Detail}", retryable: false, ex);
            }
            catch (RpcException ex) when (!ct.IsCancellationRequested)
            {
                throw new InferenceFailedException($"worker {endpoint.Name}: {ex.StatusCode}: {ex.Status.Detail}", retryable: true, ex);
            }
            finally
            {
                Interlocked.Decrement(ref endpoint.Outstanding);
                _freed.Release();
            }
        }
    }

    private WorkerEndpoint? Take(string model)
    {
        lock (_endpoints)
        {
            var best = _endpoints.Where(e => e.Healthy && e.AcceptsCalls && e.Models.ContainsKey(model) && e.Outstanding < e.MaxConcurrency)
                .OrderBy(e => e.Outstanding).FirstOrDefault();
            if (best is not null) Interlocked.Increment(ref best.Outstanding);
            return best;
        }
    }

    /// <summary>Follows a worker's health (Watch) for as long as the pool lives, reconnecting when the stream breaks.</summary>
    private async Task WatchAsync(WorkerEndpoint endpoint)
    {
        var health = new Health.HealthClient(endpoint.Channel.CallInvoker);
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                using var watch = health.Watch(new HealthCheckRequest { Service = InferenceWorker.Descriptor.FullName }, cancellationToken: _stopping.Token);
                await foreach (var update in watch.ResponseStream.ReadAllAsync(_stopping.Token).ConfigureAwait(false))
                {
                    var serving = update.Status == HealthCheckResponse.Types.ServingStatus.Serving;
                    if (serving != endpoint.Healthy) GatewayLog.WorkerHealth(_logger, endpoint.Name, update.Status.ToString());
                    endpoint.Healthy = serving;
                    _freed.Release();
                }
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException ex) when (!_stopping.IsCancellationRequested)
            {
                if (endpoint.Healthy) GatewayLog.WorkerHealth(_logger, endpoint.Name, $"unreachable ({ex.StatusCode})");
                endpoint.Healthy = false;
            }

            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var endpoint in _endpoints) endpoint.Channel.Dispose();
        foreach (var host in _embedded)
        {
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
            host.Dispose();
        }

        foreach (var child in _children) await child.DisposeAsync().ConfigureAwait(false);

        _stopping.Dispose();
    }

    private sealed class WorkerEndpoint
    {
        private readonly InferenceWorker.InferenceWorkerClient _client;
        private readonly CircuitBreakerStateProvider _circuit = new();
        public int Outstanding;

        public WorkerEndpoint(string name, Uri address, GrpcClientChannel channel, int maxConcurrency, ILogger logger)
        {
            Name = name;
            Address = address;
            Channel = channel;
            MaxConcurrency = maxConcurrency;
            _client = new InferenceWorker.InferenceWorkerClient(channel.CallInvoker);
            Breaker = new ResiliencePipelineBuilder().AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 0.5,
                MinimumThroughput = 4,
                SamplingDuration = TimeSpan.FromSeconds(60),
                BreakDuration = BreakDuration,
                StateProvider = _circuit,
                // What a broken worker answers; a refused request (INVALID_ARGUMENT, NOT_FOUND) says nothing about the worker.
                ShouldHandle = new PredicateBuilder().Handle<RpcException>(ex => ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded
                    or StatusCode.Internal or StatusCode.Unknown or StatusCode.ResourceExhausted or StatusCode.DataLoss),
                OnOpened = args =>
                {
                    GatewayLog.WorkerHealth(logger, name, $"failing; its circuit is open for {args.BreakDuration.TotalSeconds:F0} s");
                    return default;
                },
                OnClosed = _ =>
                {
                    GatewayLog.WorkerHealth(logger, name, "answering again; its circuit is closed");
                    return default;
                },
            }).Build();
        }

        /// <summary>How long a failing worker gets no calls before one trial call.</summary>
        private static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(15);

        public ResiliencePipeline Breaker { get; }

        /// <summary>Closed, or half-open (one trial call may go).</summary>
        public bool AcceptsCalls => _circuit.CircuitState is CircuitState.Closed or CircuitState.HalfOpen;

        public string Name { get; }
        public Uri Address { get; }
        public GrpcClientChannel Channel { get; }
        public int MaxConcurrency { get; }
        public volatile bool Healthy;
        public Dictionary<string, ModelInfo> Models { get; private set; } = [];

        public async Task WaitUntilServingAsync(TimeSpan timeout, CancellationToken ct)
        {
            var health = new Health.HealthClient(Channel.CallInvoker);
            var giveUp = DateTime.UtcNow + timeout;
            while (true)
            {
                try
                {
                    var status = await health.CheckAsync(new HealthCheckRequest { Service = InferenceWorker.Descriptor.FullName }, deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: ct).ConfigureAwait(false);
                    if (status.Status == HealthCheckResponse.Types.ServingStatus.Serving) break;
                }
                catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.NotFound or StatusCode.DeadlineExceeded)
                {
                    // not up yet
                }

                if (DateTime.UtcNow > giveUp) throw new InvalidOperationException($"worker {Name} at {Address} did not report SERVING within {timeout.TotalSeconds:F0} s");
                await Task.Delay(250, ct).ConfigureAwait(false);
            }

            var list = await _client.ListModelsAsync(new ListModelsRequest(), deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: ct).ConfigureAwait(false);
            Models = list.Models.ToDictionary(m => m.Name, StringComparer.Ordinal);
            Healthy = true;
        }

        public async Task<Image> RunAsync(InferenceCall call, DateTime deadline, CancellationToken ct)
        {
            var p = call.Pipeline;
            var sampler = new SamplerOptions { Steps = (uint)p.Steps, Seed = call.Seed, Sampler = p.Sampler ?? "", Strength = (float)p.Strength };
            using var stream = p.Task switch
            {
                "denoise" => _client.Denoise(new DenoiseRequest { Model = p.Model, Image = call.Image, Sampler = sampler }, deadline: deadline, cancellationToken: ct),
                "super-resolve" => _client.SuperResolve(new SuperResolveRequest { Model = p.Model, Image = call.Image, Sampler = sampler }, deadline: deadline, cancellationToken: ct),
                "inpaint" => _client.Inpaint(new InpaintRequest { Model = p.Model, Image = call.Image, Mask = call.Mask, Sampler = sampler }, deadline: deadline, cancellationToken: ct),
                _ => throw new InferenceFailedException($"task '{p.Task}' is not a restoration task", retryable: false),
            };
            Image? result = null;
            await foreach (var update in stream.ResponseStream.ReadAllAsync(ct).ConfigureAwait(false))
            {
                if (update.Image is not null) result = update.Image;
            }

            return result ?? throw new InferenceFailedException($"worker {Name} ended the call without an image", retryable: true);
        }
    }
}
