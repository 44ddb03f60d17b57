using System.Diagnostics;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using Medfusion.V1;
using MedfusionDicom.Grpc.Hosting;
using MedfusionDicom.Worker.Models;
using MedfusionDicom.Worker.Scheduling;
using MedfusionDicom.Worker.Service;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MedfusionDicom.Worker;

/// <summary>
/// Runs the worker inside the Generic Host: it starts serving health at once (NOT_SERVING), loads and warms up the
/// models, then reports SERVING. Stopping the host drains nothing: queued requests are cancelled and callers retry.
/// </summary>
public sealed class WorkerHost : BackgroundService
{
    private readonly WorkerOptions _options;
    private readonly IEnumerable<IModelLoader> _loaders;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<IReadOnlyList<Uri>> _addresses = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public WorkerHost(IOptions<WorkerOptions> options, IEnumerable<IModelLoader> loaders, ILoggerFactory loggerFactory)
    {
        _options = options.Value;
        _loaders = loaders;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<WorkerHost>();
    }

    /// <summary>The addresses the worker listens on, once it does.</summary>
    public Task<IReadOnlyList<Uri>> Addresses => _addresses.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var catalog = new ModelCatalog();
        await using var scheduler = new InferenceScheduler(_options.Scheduler, _loggerFactory.CreateLogger<InferenceScheduler>());
        var serverOptions = new GrpcServerOptions { IncludeExceptionDetails = _options.EnableDetailedErrors };
        serverOptions.Endpoints.Add(new GrpcEndpoint(new IPEndPoint(IPAddress.Parse(_options.ListenAddress), _options.Port), LoadCertificate()));
        var service = new InferenceWorkerService(catalog, scheduler, _loggerFactory.CreateLogger<InferenceWorkerService>())
        {
            EnableDetailedErrors = _options.EnableDetailedErrors,
        };
        await using var server = await GrpcServer.StartAsync(
            serverOptions, services => services.AddSingleton(service), endpoints => endpoints.MapGrpcService<InferenceWorkerService>(),
            _loggerFactory, stoppingToken).ConfigureAwait(false);
        var health = server.Health;
        SetServing(health, HealthCheckResponse.Types.ServingStatus.NotServing);
        _addresses.TrySetResult(server.Addresses);
        try
        {
            await Task.Run(() => catalog.LoadFrom(_options.ModelsDirectory, _loaders, _logger), stoppingToken).ConfigureAwait(false);
            if (_options.WarmUp)
            {
                foreach (var model in catalog.Models)
                {
                    var sw = Stopwatch.StartNew();
                    await Task.Run(model.WarmUp, stoppingToken).ConfigureAwait(false);
                    WorkerLog.WarmedUp(_logger, model.Descriptor.Name, sw.Elapsed.TotalMilliseconds);
                }
            }
            SetServing(health, HealthCheckResponse.Types.ServingStatus.Serving);
            WorkerLog.Serving(_logger, catalog.Models.Count, string.Join(", ", server.Addresses));
            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            SetServing(health, HealthCheckResponse.Types.ServingStatus.NotServing);
        }
    }

    /// <summary>The whole server ("") and the worker's service move together: a caller may watch either.</summary>
    private static void SetServing(HealthServiceImpl health, HealthCheckResponse.Types.ServingStatus status)
    {
        health.SetStatus("", status);
        health.SetStatus(InferenceWorker.Descriptor.FullName, status);
    }

    private X509Certificate2? LoadCertificate()
    {
        if (string.IsNullOrEmpty(_options.TlsCertificatePath)) return null;
        var path = _options.TlsCertificatePath;
        if (!File.Exists(path)) throw new FileNotFoundException($"TLS certificate {path} does not exist");
        return path.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".p12", StringComparison.OrdinalIgnoreCase)
            ? X509CertificateLoader.LoadPkcs12FromFile(path, null)
            : X509Certificate2.CreateFromPemFile(path, _options.TlsKeyPath);
    }
}
