using System.Net;
using MedfusionDicom.Grpc.Client;
using MedfusionDicom.Grpc.Health;
using MedfusionDicom.Grpc.Server;
using MedfusionDicom.Worker.Models;
using MedfusionDicom.Worker.Scheduling;
using MedfusionDicom.Worker.Service;
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
        Channel = GrpcChannel.ForAddress(server.Addresses[0]);
    }

    public GrpcServer Server { get; }
    public InferenceScheduler Scheduler { get; }
    public ModelCatalog Catalog { get; }
    public GrpcChannel Channel { get; }

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
        var server = await GrpcServer.StartAsync(serverOptions, [service.BindService(), new HealthService().BindService()]);
        return new WorkerFixture(server, scheduler, catalog);
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await Server.DisposeAsync();
        await Scheduler.DisposeAsync();
        Catalog.Dispose();
    }
}
