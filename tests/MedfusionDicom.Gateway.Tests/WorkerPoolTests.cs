using System.Net;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Medfusion.V1;
using MedfusionDicom.Gateway.Inference;
using MedfusionDicom.Grpc.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>The pool's balancing and circuit breaking, against two stand-in workers that report SERVING.</summary>
public sealed class WorkerPoolTests
{
    /// <summary>Serves model "m" (denoise); either answers with the request's image or fails every call as a broken worker does.</summary>
    private sealed class StandInWorker(bool broken) : InferenceWorker.InferenceWorkerBase
    {
        public int Calls;

        public override Task<ListModelsResponse> ListModels(ListModelsRequest request, ServerCallContext context) =>
            Task.FromResult(new ListModelsResponse { Models = { new ModelInfo { Name = "m", Task = "denoise", Width = 8, Height = 8, Device = "cpu" } } });

        public override async Task Denoise(DenoiseRequest request, IServerStreamWriter<JobUpdate> responseStream, ServerCallContext context)
        {
            Interlocked.Increment(ref Calls);
            if (broken) throw new RpcException(new Status(StatusCode.Unavailable, "the GPU fell off the bus"));
            await responseStream.WriteAsync(new JobUpdate { Image = request.Image });
        }
    }

    private static async Task<(GrpcServer Server, StandInWorker Worker)> StartAsync(bool broken)
    {
        var worker = new StandInWorker(broken);
        var options = new GrpcServerOptions();
        options.Endpoints.Add(new GrpcEndpoint(new IPEndPoint(IPAddress.Loopback, 0)));
        var server = await GrpcServer.StartAsync(options, s => s.AddSingleton(worker), e => e.MapGrpcService<StandInWorker>());
        server.Health.SetStatus(InferenceWorker.Descriptor.FullName, HealthCheckResponse.Types.ServingStatus.Serving);
        return (server, worker);
    }

    private static InferenceCall Call() => new(new PipelineOptions { Task = "denoise", Model = "m" },
        new Image { Width = 8, Height = 8, Channels = 1, PixelType = PixelType.Uint8, Data = ByteString.CopyFrom(new byte[64]) }, null, 1);

    [Fact]
    public async Task A_worker_that_keeps_failing_is_cut_off_by_its_circuit_breaker_and_the_healthy_one_takes_the_calls()
    {
        var (goodServer, good) = await StartAsync(broken: false);
        var (badServer, bad) = await StartAsync(broken: true);
        await using var _ = goodServer;
        await using var __ = badServer;
        await using var pool = new WorkerPool(NullLoggerFactory.Instance);
        await pool.StartAsync(
            [new WorkerEndpointOptions { Name = "bad", Address = badServer.Addresses[0].ToString() }, new WorkerEndpointOptions { Name = "good", Address = goodServer.Addresses[0].ToString() }],
            "", TimeSpan.FromSeconds(30), CancellationToken.None);

        var failures = 0;
        for (var i = 0; i < 40; i++)
        {
            // Two at a time, so that least-outstanding balancing sends one of each pair to the bad worker while its circuit is closed.
            var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(async _ =>
            {
                try
                {
                    await pool.RunAsync(Call(), CancellationToken.None);
                    return true;
                }
                catch (InferenceFailedException ex) when (ex.Retryable)
                {
                    return false;
                }
            }));
            failures += results.Count(ok => !ok);
        }

        Assert.InRange(failures, 4, 8); // the breaker's minimum throughput, then it opened
        Assert.Equal(4 * failures, bad.Calls); // each failed call was tried 4 times by the channel's retries of UNAVAILABLE
        Assert.Equal(80 - failures, good.Calls);
    }

    [Fact]
    public async Task A_model_no_worker_serves_fails_at_once_and_is_not_retryable()
    {
        var (server, _) = await StartAsync(broken: false);
        await using var __ = server;
        await using var pool = new WorkerPool(NullLoggerFactory.Instance);
        await pool.StartAsync([new WorkerEndpointOptions { Name = "w", Address = server.Addresses[0].ToString() }], "", TimeSpan.FromSeconds(30), CancellationToken.None);

        var error = await Assert.ThrowsAsync<InferenceFailedException>(() => pool.RunAsync(Call() with { Pipeline = new PipelineOptions { Task = "denoise", Model = "other" } }, CancellationToken.None));

        Assert.False(error.Retryable);
        Assert.Contains("no worker serves model 'other'", error.Message, StringComparison.Ordinal);
    }
}
