using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.IO;
using System.Net;
using MedfusionDicom.Dimse;
using MedfusionDicom.Gateway.Assembly;
using MedfusionDicom.Gateway.Export;
using MedfusionDicom.Gateway.Inference;
using MedfusionDicom.Gateway.Ingest;
using MedfusionDicom.Gateway.Jobs;
using MedfusionDicom.Gateway.Results;
using MedfusionDicom.Gateway.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MedfusionDicom.Gateway;

/// <summary>A setting that is well-formed but does not fit what the gateway found at start (a route's model that no worker serves).</summary>
public sealed class GatewayConfigurationException(string message) : Exception(message);

/// <summary>
/// The gateway's stages in one host: at start it opens (or migrates) the index, connects the workers, checks the
/// routes against the models they serve and starts the DIMSE SCP; then routing, jobs and exports run until the host
/// stops. A start that fails stops the host with a message naming the setting.
/// </summary>
public sealed class GatewayService(IOptions<GatewayOptions> options, ILoggerFactory loggerFactory) : BackgroundService
{
    private readonly GatewayOptions _options = options.Value;
    private readonly ILogger _logger = loggerFactory.CreateLogger<GatewayService>();
    private GatewayIndex? _index;
    private WorkerPool? _workers;
    private DicomServer? _dimse;
    private DicomWeb.DicomWebServer? _dicomWeb;
    private Grpc.Hosting.GrpcServer? _api;
    private Cohorts.CohortJobs? _cohorts;
    private readonly PipelineSignals _signals = new();

    /// <summary>The gRPC API's address, once started; null when it is off.</summary>
    public Uri? GrpcUrl => _api?.Addresses[0];

    /// <summary>The DICOMweb service's root URL, once started; null when it is off.</summary>
    public Uri? DicomWebUrl => _dicomWeb?.Url;

    /// <summary>The index, once started (tests and operator verbs read it).</summary>
    public GatewayIndex Index => _index ?? throw new InvalidOperationException("the gateway has not started");

    /// <summary>The DIMSE SCP's port (the configured one, or the free one picked for 0).</summary>
    public int DimsePort => _dimse?.Port ?? throw new InvalidOperationException("the gateway has not started");

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var data = Path.GetFullPath(_options.DataDirectory);
        Directory.CreateDirectory(data);
        _index = GatewayIndex.Open(_options.Database, data, journaled: DicomStoreJournal.IsSupported);
        await _index.MigrateAsync(cancellationToken).ConfigureAwait(false);
        var released = await _index.ReleaseAllLeasesAsync(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), cancellationToken).ConfigureAwait(false);
        if (released > 0) GatewayLog.LeasesReleased(_logger, released);

        _workers = new WorkerPool(loggerFactory);
        await _workers.StartAsync(_options.Workers, _options.ModelsDirectory, TimeSpan.FromMinutes(5), cancellationToken).ConfigureAwait(false);
        CheckRoutesAgainstModels();

        var files = new InstanceFiles(data);
        var handler = new GatewayStoreHandler(_index, files, _options.Storage.MinimumFreeMegabytes * 1024 * 1024, loggerFactory.CreateLogger<GatewayStoreHandler>());
        _dimse = new DicomServer(DimseServerOptions(data), handler, loggerFactory);
        await _dimse.StartAsync(cancellationToken).ConfigureAwait(false);
        await IndexJournaledAsync(_dimse.Journal, files, cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(_options.DicomWeb.Url))
            _dicomWeb = await DicomWeb.DicomWebServer.StartAsync(_options, _index, files, loggerFactory, cancellationToken).ConfigureAwait(false);
        _cohorts = new Cohorts.CohortJobs(_options, _index, files, _signals, loggerFactory.CreateLogger<Cohorts.CohortJobs>());
        _cohorts.Load();
        if (!string.IsNullOrEmpty(_options.Grpc.Url)) _api = await StartApiAsync(_cohorts, cancellationToken).ConfigureAwait(false);
        LogSettings(data);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var files = new InstanceFiles(_options.DataDirectory);
        var signals = _signals;
        var router = new StudyRouter(Index, _options, signals, loggerFactory.CreateLogger<StudyRouter>());
        var jobs = new JobRunner(Index, new DerivedInstanceWriter(_workers!, files), _options, signals, loggerFactory.CreateLogger<JobRunner>());
        var exports = new ExportRunner(Index, _options, signals, loggerFactory);
        var concurrency = Math.Max(1, _options.Workers.Sum(w => w.MaxConcurrency));
        return Task.WhenAll(router.RunAsync(stoppingToken), jobs.RunAsync(concurrency, stoppingToken), exports.RunAsync(stoppingToken), _cohorts!.RunAsync(stoppingToken));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_dimse is not null) await _dimse.StopAsync().ConfigureAwait(false);
        if (_dicomWeb is not null) await _dicomWeb.DisposeAsync().ConfigureAwait(false);
        if (_api is not null) await _api.DisposeAsync().ConfigureAwait(false);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_workers is not null) await _workers.DisposeAsync().ConfigureAwait(false);
    }

    public override void Dispose()
    {
        Interlocked.Exchange(ref _dimse, null)?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        base.Dispose();
    }

    /// <summary>
    /// The instances the store journal held at start were acknowledged after their index rows were committed, but
    /// those commits become durable only with the journal's checkpoint: after a power loss some may be missing. Each
    /// one the index lacks is indexed again from its file (which the journal has just restored).
    /// </summary>
    private async Task IndexJournaledAsync(DicomStoreJournal? journal, InstanceFiles files, CancellationToken ct)
    {
        var added = 0;
        foreach (var path in journal?.JournaledPaths ?? [])
        {
            if (!path.StartsWith(files.Root + Path.DirectorySeparatorChar, StringComparison.Ordinal) || !File.Exists(path)) continue;
            var file = await DicomFile.OpenAsync(path, new DicomReaderOptions { StopBeforeTag = DicomTag.PixelData }, ct).ConfigureAwait(false);
            var record = GatewayStoreHandler.Describe(file.Dataset, path, new FileInfo(path).Length, file.TransferSyntax.UID.UID, "", "",
                DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), derived: false, route: null);
            if (await _index!.IndexIfMissingAsync(record, ct).ConfigureAwait(false)) added++;
        }

        if (added > 0) GatewayLog.ReindexedFromJournal(_logger, added);
    }

    /// <summary>The gRPC API on Gateway:Grpc:Url (h2c; a host name other than an IP listens on every address).</summary>
    private async Task<Grpc.Hosting.GrpcServer> StartApiAsync(Cohorts.CohortJobs cohorts, CancellationToken ct)
    {
        var url = new Uri(_options.Grpc.Url);
        var address = IPAddress.TryParse(url.Host, out var ip) ? ip : url.IsLoopback ? IPAddress.Loopback : IPAddress.Any;
        var server = new Grpc.Hosting.GrpcServerOptions();
        server.Endpoints.Add(new Grpc.Hosting.GrpcEndpoint(new IPEndPoint(address, url.Port)));
        var api = new Api.GatewayApiService(cohorts);
        try
        {
            return await Grpc.Hosting.GrpcServer.StartAsync(server, services => services.AddSingleton(api),
                endpoints => endpoints.MapGrpcService<Api.GatewayApiService>(), loggerFactory, ct).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            throw new GatewayConfigurationException($"{GatewayOptions.SectionName}:Grpc:Url: cannot listen at {_options.Grpc.Url}: {ex.Message}");
        }
    }

    private void CheckRoutesAgainstModels()
    {
        var models = _workers!.Models;
        for (var i = 0; i < _options.Routes.Count; i++)
        {
            var p = _options.Routes[i].Pipeline;
            if (!models.TryGetValue(p.Model, out var model))
                throw new GatewayConfigurationException(
                    $"{GatewayOptions.SectionName}:Routes:{i}:Pipeline:Model: no worker serves model '{p.Model}'; the workers serve: {string.Join(", ", models.Keys.Order())}");
            if (!string.Equals(model.Task, p.Task, StringComparison.OrdinalIgnoreCase))
                throw new GatewayConfigurationException(
                    $"{GatewayOptions.SectionName}:Routes:{i}:Pipeline:Task: model '{p.Model}' does {model.Task}, not {p.Task}");
        }
    }

    private DicomServerOptions DimseServerOptions(string data)
    {
        var dimse = _options.Dimse;
        var server = new DicomServerOptions
        {
            AETitle = dimse.AeTitle,
            Port = dimse.Port,
            MaxAssociations = dimse.MaxAssociations,
            AllowedPeers = dimse.AllowedCallers.Count == 0 ? null : dimse.AllowedCallers.Select(c => new DicomPeer(c.AeTitle, c.Host)).ToList(),
            // One per node when nodes share the data directory: opening a journal replays and then reuses its segments,
            // which must never touch another live node's transfers.
            JournalDirectory = !DicomStoreJournal.IsSupported ? null
                : Index.Database.SharedByNodes ? Path.Combine(data, ".journal", _options.NodeName) : Path.Combine(data, ".journal"),
            BindAddress = IPAddress.Any,
        };
        server.Tls = dimse.Tls?.ToDicomTlsOptions();
        return server;
    }

    private void LogSettings(string data)
    {
        GatewayLog.Setting(_logger, "DIMSE", $"{_options.Dimse.AeTitle}@{_dimse!.Port}{(_options.Dimse.Tls is null ? "" : " (TLS)")}");
        GatewayLog.Setting(_logger, "DICOMweb", _dicomWeb is null ? "off" : $"{_dicomWeb.Url} (STOW-RS, QIDO-RS, WADO-RS retrieve, metadata and frames)");
        GatewayLog.Setting(_logger, "gRPC API", _api is null ? "off" : $"{_api.Addresses[0]} (medfusion.v1.Gateway: synthetic cohorts)");
        GatewayLog.Setting(_logger, "database", Index.Database.Description);
        GatewayLog.Setting(_logger, "node", _options.NodeName);
        GatewayLog.Setting(_logger, "data directory", data);
        foreach (var (name, address, models) in _workers!.Describe())
            GatewayLog.Setting(_logger, "worker", $"{name} at {address}: {string.Join(", ", models.Order())}");
        foreach (var route in _options.Routes)
            GatewayLog.Setting(_logger, "route", $"{route.Name}: {string.Join("; ", route.Match.Select(m => $"{m.Key} = {string.Join(" | ", m.Value)}"))} -> {route.Pipeline.Task} with {route.Pipeline.Model} -> {(route.Destinations.Count == 0 ? "kept in the gateway" : string.Join(", ", route.Destinations))}");
        foreach (var d in _options.Destinations)
            GatewayLog.Setting(_logger, "destination", d.Type == DestinationType.DicomWeb
                ? $"{d.Name}: STOW-RS {d.Url}{(d.Headers.Count == 0 ? "" : $" with header(s) {string.Join(", ", d.Headers.Keys)}")}"
                : $"{d.Name}: {d.Type} {d.AeTitle}@{d.Host}:{d.Port}{(d.Tls is null ? "" : " (TLS)")}");
        if (_options.Destinations.Count == 0) GatewayLog.Setting(_logger, "destination", "none (results stay in the gateway)");
    }
}
