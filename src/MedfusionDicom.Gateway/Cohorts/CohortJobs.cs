using System.Collections.Concurrent;
using System.Text.Json;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Derived;
using MedfusionDicom.Dicom.IO;
using MedfusionDicom.Gateway.Ingest;
using MedfusionDicom.Gateway.Storage;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Gateway.Cohorts;

public enum CohortJobState { Queued, Running, Done, Failed }

/// <summary>What a cohort job is asked for (the gRPC API's StartCohort): a model by name under the gateway's models, and destinations by name.</summary>
public sealed record CohortJobSpec
{
    public required string Model { get; init; }
    public required int Patients { get; init; }
    public required IReadOnlyList<LabelShare> Mix { get; init; }
    public int ImagesPerPatient { get; init; } = 1;
    public long Seed { get; init; }
    public int Steps { get; init; } = 25;
    public string Sampler { get; init; } = "dpm++";
    public double? MaxSimilarity { get; init; } = 0.9;
    public string Iod { get; init; } = "";
    public bool RequireScreening { get; init; }
    public string TrainingData { get; init; } = "";
    public IReadOnlyList<string> Destinations { get; init; } = [];
}

/// <summary>A cohort job as it stands; the record the API answers with and job.json holds.</summary>
public sealed record CohortJobStatus
{
    public required string Id { get; init; }
    public required CohortJobSpec Spec { get; init; }
    public CohortJobState State { get; init; }
    public int ImagesDone { get; init; }
    public int ImagesTotal { get; init; }
    public int Blocked { get; init; }
    public string? Error { get; init; }
    public IReadOnlyList<string> StudyInstanceUids { get; init; } = [];
    public string? ReportJson { get; init; }
    public DateTime CreatedUtc { get; init; }
}

/// <summary>
/// Synthetic cohorts as gateway jobs, one at a time: each job lives in DataDirectory/cohorts/ID (job.json, written
/// then renamed at every change of state, and the cohort itself under cohort/), so a job survives a restart: one that
/// was queued or running is run again from its start, and the same seed makes the same cohort, UIDs included. A done
/// cohort's instances go into the gateway's store and index as made instances (never routed), where DICOMweb and the
/// viewer serve them, and are queued for the job's destinations.
/// </summary>
public sealed class CohortJobs(GatewayOptions options, GatewayIndex index, InstanceFiles files, PipelineSignals signals, ILogger logger)
{
    private const string JobFile = "job.json";
    private readonly string _root = Path.Combine(Path.GetFullPath(options.DataDirectory), "cohorts");
    private readonly ConcurrentDictionary<string, CohortJobStatus> _jobs = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _queued = new(0);
    private readonly object _changeLock = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Loads the jobs a previous run left; queued and running ones are queued again.</summary>
    public void Load()
    {
        if (!Directory.Exists(_root)) return;
        foreach (var dir in Directory.GetDirectories(_root).Order(StringComparer.Ordinal))
        {
            var path = Path.Combine(dir, JobFile);
            if (!File.Exists(path)) continue;
            var job = JsonSerializer.Deserialize<CohortJobStatus>(File.ReadAllText(path), CohortReport.Json)!;
            if (job.State is CohortJobState.Queued or CohortJobState.Running)
            {
                job = job with { State = CohortJobState.Queued, ImagesDone = 0, Blocked = 0 };
                _queued.Release();
            }
            _jobs[job.Id] = job;
        }
    }

    /// <summary>Checks and queues a cohort; bad settings are a <see cref="CohortException"/> that names the field.</summary>
    public CohortJobStatus Start(CohortJobSpec spec)
    {
        foreach (var destination in spec.Destinations)
            if (!options.Destinations.Any(d => string.Equals(d.Name, destination, StringComparison.OrdinalIgnoreCase)))
                throw new CohortException($"destinations: no destination '{destination}' is configured (Gateway:Destinations has {string.Join(", ", options.Destinations.Select(d => d.Name).DefaultIfEmpty("none"))})");
        var request = ToRequest(spec, "");
        var card = Diffusion.Models.ModelLoader.LoadCard(request.ModelDirectory);
        if (card.Kind != Diffusion.Models.ModelKind.Medfusion) throw new CohortException($"model: '{spec.Model}' is not a Medfusion (synthesis) model");
        request.Validate(card.Labels);
        var job = new CohortJobStatus
        {
            Id = DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..8],
            Spec = spec,
            State = CohortJobState.Queued,
            ImagesTotal = spec.Patients * spec.ImagesPerPatient,
            CreatedUtc = DateTime.UtcNow,
        };
        Save(job);
        _queued.Release();
        return job;
    }

    public CohortJobStatus? Get(string id) => _jobs.TryGetValue(id, out var job) ? job : null;

    /// <summary>The job now, then each change, until it is done or failed.</summary>
    public async IAsyncEnumerable<CohortJobStatus> WatchAsync(string id, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        CohortJobStatus? last = null;
        while (true)
        {
            Task changed;
            lock (_changeLock) changed = _changed.Task;
            var job = Get(id) ?? throw new KeyNotFoundException($"no cohort job '{id}'");
            if (job != last) yield return job;
            last = job;
            if (job.State is CohortJobState.Done or CohortJobState.Failed) yield break;
            await changed.WaitAsync(TimeSpan.FromSeconds(5), ct).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
        }
    }

    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await _queued.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var next = _jobs.Values.Where(j => j.State == CohortJobState.Queued).OrderBy(j => j.CreatedUtc).FirstOrDefault();
            if (next is null) continue;
            await RunJobAsync(next, ct).ConfigureAwait(false);
        }
    }

    private async Task RunJobAsync(CohortJobStatus job, CancellationToken ct)
    {
        var output = Path.Combine(_root, job.Id, "cohort");
        // A cohort is made whole or again: what a stopped run left is not kept.
        if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        job = Update(job with { State = CohortJobState.Running, ImagesDone = 0, Blocked = 0, Error = null });
        GatewayLog.CohortStarted(logger, job.Id, job.Spec.Model, job.Spec.Patients);
        try
        {
            var progress = new Progress(p => job = Update(job with { ImagesDone = p.ImagesDone, Blocked = p.Blocked }, persist: false));
            var request = ToRequest(job.Spec, output);
            // In a `medfusion gateway`, the generation runs in a child process at nice 19 (memory and CPU of its own);
            // a gateway hosted by another program (a test host) runs it here.
            if (CohortProcess.Available) await CohortProcess.RunAsync(request, progress, logger, job.Id, ct).ConfigureAwait(false);
            else await Task.Run(() => CohortGenerator.RunAsync(request, progress, Torch.TorchDevices.Resolve("cpu"), ct), ct).ConfigureAwait(false);
            var report = System.Text.Json.JsonSerializer.Deserialize<CohortReport>(
                await File.ReadAllTextAsync(Path.Combine(output, CohortGenerator.ReportJsonFile), ct).ConfigureAwait(false), CohortReport.Json)
                ?? throw new CohortException("the cohort's report.json is empty");
            var studies = await StoreAsync(job, output, ct).ConfigureAwait(false);
            job = Update(job with
            {
                State = CohortJobState.Done,
                ImagesDone = report.Images,
                Blocked = report.Screen.Blocked.Count,
                StudyInstanceUids = studies,
                ReportJson = await File.ReadAllTextAsync(Path.Combine(output, CohortGenerator.ReportJsonFile), ct).ConfigureAwait(false),
            });
            GatewayLog.CohortDone(logger, job.Id, report.Images, studies.Count, string.Join(", ", job.Spec.Destinations.DefaultIfEmpty("none")));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopping: job.json still says running, so the next start runs it again.
        }
        catch (Exception ex) when (ex is CohortException or DicomException or IOException or FormatException or ArgumentException)
        {
            job = Update(job with { State = CohortJobState.Failed, Error = ex.Message });
            GatewayLog.CohortFailed(logger, job.Id, ex.Message, ex);
        }
        catch (Exception ex)
        {
            job = Update(job with { State = CohortJobState.Failed, Error = $"internal error ({ex.GetType().Name}); the gateway's log has the details" });
            GatewayLog.CohortFailed(logger, job.Id, ex.Message, ex);
        }
    }

    /// <summary>Every instance of the cohort into the store and the index, queued for the job's destinations.</summary>
    private async Task<IReadOnlyList<string>> StoreAsync(CohortJobStatus job, string output, CancellationToken ct)
    {
        var studies = new SortedSet<string>(StringComparer.Ordinal);
        var destinations = options.Destinations.Where(d => job.Spec.Destinations.Contains(d.Name, StringComparer.OrdinalIgnoreCase)).Select(d => d.Name).ToList();
        foreach (var path in Directory.GetFiles(Path.Combine(output, CohortGenerator.ImagesFolder), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var file = await DicomFile.OpenAsync(path, cancellationToken: ct).ConfigureAwait(false);
            var uid = file.Dataset.GetString(DicomTag.SOPInstanceUID);
            var size = await files.WriteDurablyAsync(uid, file, ct).ConfigureAwait(false);
            var record = GatewayStoreHandler.Describe(file.Dataset, files.PathOf(uid), size, file.TransferSyntax.UID.UID, "", "",
                DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), derived: true, route: "cohort " + job.Id);
            await index.AddMadeInstanceAsync(record, destinations, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), ct).ConfigureAwait(false);
            studies.Add(record.StudyInstanceUid);
        }
        foreach (var destination in destinations) signals.Exports(destination).Set();
        return studies.ToList();
    }

    private CohortRequest ToRequest(CohortJobSpec spec, string output)
    {
        var model = Path.Combine(Path.GetFullPath(options.ModelsDirectory), spec.Model);
        if (spec.Model.Length == 0 || spec.Model.Contains('/') || spec.Model.Contains('\\') || spec.Model.StartsWith('.') || !Directory.Exists(model))
            throw new CohortException($"model: no model '{spec.Model}' under the gateway's models");
        return new CohortRequest
        {
            ModelDirectory = model,
            Patients = spec.Patients,
            Mix = spec.Mix,
            ImagesPerPatient = spec.ImagesPerPatient,
            OutputDirectory = output,
            Seed = spec.Seed,
            Steps = spec.Steps,
            Sampler = CohortRequest.ParseSampler(spec.Sampler),
            MaxSimilarity = spec.MaxSimilarity,
            RequireScreening = spec.RequireScreening,
            TrainingData = spec.TrainingData.Length == 0 ? null : spec.TrainingData,
            Iod = CohortRequest.ParseIod(spec.Iod),
        };
    }

    private CohortJobStatus Update(CohortJobStatus job, bool persist = true)
    {
        if (persist) Save(job);
        else _jobs[job.Id] = job;
        lock (_changeLock)
        {
            _changed.TrySetResult();
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        return job;
    }

    /// <summary>job.json, written then renamed: a crash leaves the old state or the new, never half of one.</summary>
    private void Save(CohortJobStatus job)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_root, job.Id)).FullName;
        var temp = Path.Combine(dir, JobFile + ".tmp");
        File.WriteAllText(temp, JsonSerializer.Serialize(job, CohortReport.Json));
        File.Move(temp, Path.Combine(dir, JobFile), overwrite: true);
        _jobs[job.Id] = job;
    }

    private sealed class Progress(Action<CohortProgress> report) : IProgress<CohortProgress>
    {
        public void Report(CohortProgress value) => report(value);
    }
}
