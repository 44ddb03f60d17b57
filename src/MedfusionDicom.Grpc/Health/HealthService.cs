using System.Threading.Channels;
using Grpc.Health.V1;
using MedfusionDicom.Grpc.Server;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace MedfusionDicom.Grpc.Health;

/// <summary>
/// The standard health service. The owner sets each service's status (the empty name is the whole server);
/// Check answers the current one, Watch streams it and every change until the client leaves.
/// </summary>
public sealed class HealthService
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, ServingStatus> statuses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<Channel<ServingStatus>>> watchers = new(StringComparer.Ordinal);

    public void SetStatus(string service, ServingStatus status)
    {
        lock (gate)
        {
            statuses[service] = status;
            Notify(service, status);
        }
    }

    /// <summary>Forgets a service: Check answers NOT_FOUND again, watchers see SERVICE_UNKNOWN.</summary>
    public void ClearStatus(string service)
    {
        lock (gate)
        {
            if (statuses.Remove(service))
            {
                Notify(service, ServingStatus.ServiceUnknown);
            }
        }
    }

    public ServiceDefinition BindService() =>
        ServiceDefinition.CreateBuilder(HealthMethods.ServiceName)
            .AddUnary(HealthMethods.Check, CheckAsync)
            .AddServerStreaming(HealthMethods.Watch, WatchAsync)
            .Build();

    private Task<HealthCheckResponse> CheckAsync(HealthCheckRequest request, ServerCallContext context)
    {
        lock (gate)
        {
            return statuses.TryGetValue(request.Service, out var status)
                ? Task.FromResult(new HealthCheckResponse { Status = status })
                : throw new RpcException(StatusCode.NotFound, $"Unknown service '{request.Service}'.");
        }
    }

    private async Task WatchAsync(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> responses, ServerCallContext context)
    {
        // Only the newest status matters to a watcher, so a slow one skips intermediate changes instead of queueing them.
        var updates = Channel.CreateBounded<ServingStatus>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });
        lock (gate)
        {
            updates.Writer.TryWrite(statuses.GetValueOrDefault(request.Service, ServingStatus.ServiceUnknown));
            if (!watchers.TryGetValue(request.Service, out var list))
            {
                watchers[request.Service] = list = [];
            }

            list.Add(updates);
        }

        try
        {
            ServingStatus? lastSent = null;
            await foreach (var status in updates.Reader.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
            {
                if (status != lastSent)
                {
                    await responses.WriteAsync(new HealthCheckResponse { Status = status }).ConfigureAwait(false);
                    lastSent = status;
                }
            }
        }
        finally
        {
            lock (gate)
            {
                watchers[request.Service].Remove(updates);
                if (watchers[request.Service].Count == 0)
                {
                    watchers.Remove(request.Service);
                }
            }
        }
    }

    private void Notify(string service, ServingStatus status)
    {
        if (watchers.TryGetValue(service, out var list))
        {
            foreach (var watcher in list)
            {
                watcher.Writer.TryWrite(status);
            }
        }
    }
}
