using Grpc.Core;
using MedfusionDicom.Gateway.Cohorts;
using Medfusion.V1;

namespace MedfusionDicom.Gateway.Api;

/// <summary>
/// medfusion.v1.Gateway: the gateway's gRPC API (Gateway:Grpc:Url). It starts and reports synthetic cohort jobs
/// (<see cref="CohortJobs"/>); settings that cannot make a cohort are INVALID_ARGUMENT with the reason, an unknown job
/// NOT_FOUND.
/// </summary>
public sealed class GatewayApiService(CohortJobs cohorts) : Medfusion.V1.Gateway.GatewayBase
{
    public override Task<CohortJob> StartCohort(StartCohortRequest request, ServerCallContext context)
    {
        try
        {
            return Task.FromResult(ToMessage(cohorts.Start(new CohortJobSpec
            {
                Model = request.Model,
                Patients = (int)Math.Min(request.Patients, int.MaxValue),
                Mix = request.Mix.Select(m => new Cohorts.LabelShare(m.Label, m.Fraction)).ToList(),
                ImagesPerPatient = request.ImagesPerPatient == 0 ? 1 : (int)Math.Min(request.ImagesPerPatient, int.MaxValue),
                Seed = unchecked((long)request.Seed),
                Steps = request.Steps == 0 ? 25 : (int)Math.Min(request.Steps, int.MaxValue),
                Sampler = request.Sampler,
                MaxSimilarity = request.HasMaxSimilarity ? request.MaxSimilarity : 0.9,
                Iod = request.Iod,
                RequireScreening = request.RequireScreening,
                TrainingData = request.TrainingData,
                Destinations = request.Destinations.ToList(),
            })));
        }
        catch (Exception ex) when (ex is CohortException or FormatException or IOException)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, ex.Message));
        }
    }

    public override Task<CohortJob> GetCohort(CohortJobRequest request, ServerCallContext context) =>
        Task.FromResult(ToMessage(cohorts.Get(request.Id) ?? throw NotFound(request.Id)));

    public override async Task WatchCohort(CohortJobRequest request, IServerStreamWriter<CohortJob> responseStream, ServerCallContext context)
    {
        if (cohorts.Get(request.Id) is null) throw NotFound(request.Id);
        await foreach (var job in cohorts.WatchAsync(request.Id, context.CancellationToken).ConfigureAwait(false))
            await responseStream.WriteAsync(ToMessage(job), context.CancellationToken).ConfigureAwait(false);
    }

    private static RpcException NotFound(string id) => new(new Status(StatusCode.NotFound, $"no cohort job '{id}'"));

    private static CohortJob ToMessage(CohortJobStatus job)
    {
        var message = new CohortJob
        {
            Id = job.Id,
            State = job.State.ToString().ToLowerInvariant(),
            ImagesDone = (uint)job.ImagesDone,
            ImagesTotal = (uint)job.ImagesTotal,
            Blocked = (uint)job.Blocked,
            Error = job.Error ?? "",
            ReportJson = job.ReportJson ?? "",
        };
        message.StudyInstanceUids.AddRange(job.StudyInstanceUids);
        message.Destinations.AddRange(job.Spec.Destinations);
        return message;
    }
}
