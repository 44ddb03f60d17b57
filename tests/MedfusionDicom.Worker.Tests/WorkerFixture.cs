using System.Net;
using Google.Protobuf;
using Grpc.Core;
using Medfusion.V1;
using MedfusionDicom.Grpc.Client;
using MedfusionDicom.Grpc.Hosting;
using MedfusionDicom.Worker.Models;
using MedfusionDicom.Worker.Scheduling;
using MedfusionDicom.Worker.Service;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Worker.Tests;

/// <summary>A worker service on a loopback port with test-double models, and a client channel to it.</summary>
internal sealed class WorkerFixture : IAsyncDisposable
{
    private WorkerFixture(GrpcServer server, InferenceScheduler scheduler, ModelCatalog catalog)
    {
        Server = server;
        Scheduler = scheduler;
        Catalog = catalog;
        Channel = GrpcClientChannel.ForAddress(server.Addresses[0]);
        Client = new InferenceWorker.InferenceWorkerClient(Channel.CallInvoker);
    }

    public GrpcServer Server { get; }
    public InferenceScheduler Scheduler { get; }
    public ModelCatalog Catalog { get; }
    public GrpcClientChannel Channel { get; }
    public InferenceWorker.InferenceWorkerClient Client { get; }

    public static Task<WorkerFixture> StartAsync(SchedulerOptions? options = null, params IInferenceModel[] models) =>
        StartAsync(options, detailedErrors: false, logger: null, models);

    public static async Task<WorkerFixture> StartAsync(SchedulerOptions? options, bool detailedErrors, ILogger<InferenceWorkerService>? logger,
        params IInferenceModel[] models)
    {
        var catalog = new ModelCatalog(models);
        var scheduler = new InferenceScheduler(options ?? new SchedulerOptions());
        var service = new InferenceWorkerService(catalog, scheduler, logger) { EnableDetailedErrors = detailedErrors };
        var serverOptions = new GrpcServerOptions();
        serverOptions.Endpoints.Add(new GrpcEndpoint(new IPEndPoint(IPAddress.Loopback, 0)));
        var server = await GrpcServer.StartAsync(serverOptions, s => s.AddSingleton(service), e => e.MapGrpcService<InferenceWorkerService>());
        return new WorkerFixture(server, scheduler, catalog);
    }

    /// <summary>Starts the streaming call that the request's type names.</summary>
    public AsyncServerStreamingCall<JobUpdate> Start(IMessage request, CallOptions options = default) => request switch
    {
        DenoiseRequest r => Client.Denoise(r, options),
        SuperResolveRequest r => Client.SuperResolve(r, options),
        InpaintRequest r => Client.Inpaint(r, options),
        SynthesizeRequest r => Client.Synthesize(r, options),
        _ => throw new ArgumentException($"{request.GetType().Name} is not a streaming request of InferenceWorker", nameof(request)),
    };

    /// <summary>Runs the call to its end and returns every update.</summary>
    public async Task<List<JobUpdate>> CollectAsync(IMessage request, CallOptions options = default)
    {
        using var call = Start(request, options);
        return await call.ResponseStream.ReadAllAsync().ToListAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await Server.DisposeAsync();
        await Scheduler.DisposeAsync();
        Catalog.Dispose();
    }
}
