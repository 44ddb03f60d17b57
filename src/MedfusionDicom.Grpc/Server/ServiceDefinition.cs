namespace MedfusionDicom.Grpc.Server;

public delegate Task<TResponse> UnaryServerMethod<TRequest, TResponse>(TRequest request, ServerCallContext context);

public delegate Task ServerStreamingServerMethod<TRequest, TResponse>(
    TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context);

public delegate Task<TResponse> ClientStreamingServerMethod<TRequest, TResponse>(
    IAsyncEnumerable<TRequest> requestStream, ServerCallContext context);

public delegate Task DuplexStreamingServerMethod<TRequest, TResponse>(
    IAsyncEnumerable<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context);

public interface IServerStreamWriter<in T>
{
    /// <summary>Sends one message now (flushed), waiting while the client's flow-control window is full.</summary>
    Task WriteAsync(T message);
}

/// <summary>
/// The handlers of one service, keyed by method path. Every shape reduces to one call that reads requests and
/// writes responses, so the dispatcher treats all four alike.
/// </summary>
public sealed class ServiceDefinition
{
    private ServiceDefinition(string serviceName, IReadOnlyDictionary<string, Func<ServerCallContext, Task>> handlers)
    {
        ServiceName = serviceName;
        Handlers = handlers;
    }

    public string ServiceName { get; }

    internal IReadOnlyDictionary<string, Func<ServerCallContext, Task>> Handlers { get; }

    public static Builder CreateBuilder(string serviceName) => new(serviceName);

    public sealed class Builder(string serviceName)
    {
        private readonly Dictionary<string, Func<ServerCallContext, Task>> handlers = new(StringComparer.Ordinal);

        public Builder AddUnary<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse> handler) =>
            Add(method, MethodType.Unary, async context =>
            {
                var request = await context.ReadSingleMessageAsync(method.RequestMarshaller).ConfigureAwait(false);
                var response = await handler(request, context).ConfigureAwait(false);
                await context.WriteMessageAsync(response, method.ResponseMarshaller, flush: false).ConfigureAwait(false);
            });

        public Builder AddServerStreaming<TRequest, TResponse>(
            Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse> handler) =>
            Add(method, MethodType.ServerStreaming, async context =>
            {
                var request = await context.ReadSingleMessageAsync(method.RequestMarshaller).ConfigureAwait(false);
                await handler(request, new ResponseStream<TResponse>(context, method.ResponseMarshaller), context).ConfigureAwait(false);
            });

        public Builder AddClientStreaming<TRequest, TResponse>(
            Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse> handler) =>
            Add(method, MethodType.ClientStreaming, async context =>
            {
                var response = await handler(context.ReadAllMessagesAsync(method.RequestMarshaller), context).ConfigureAwait(false);
                await context.WriteMessageAsync(response, method.ResponseMarshaller, flush: false).ConfigureAwait(false);
            });

        public Builder AddDuplexStreaming<TRequest, TResponse>(
            Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse> handler) =>
            Add(method, MethodType.DuplexStreaming, context => handler(
                context.ReadAllMessagesAsync(method.RequestMarshaller),
                new ResponseStream<TResponse>(context, method.ResponseMarshaller),
                context));

        public ServiceDefinition Build() => new(serviceName, new Dictionary<string, Func<ServerCallContext, Task>>(handlers));

        private Builder Add<TRequest, TResponse>(Method<TRequest, TResponse> method, MethodType expected, Func<ServerCallContext, Task> handler)
        {
            if (method.Type != expected)
            {
                throw new ArgumentException($"{method.FullName} is {method.Type}, not {expected}.", nameof(method));
            }

            if (method.ServiceName != serviceName)
            {
                throw new ArgumentException($"{method.FullName} does not belong to service {serviceName}.", nameof(method));
            }

            if (!handlers.TryAdd(method.FullName, handler))
            {
                throw new ArgumentException($"{method.FullName} has a handler already.", nameof(method));
            }

            return this;
        }
    }

    private sealed class ResponseStream<T>(ServerCallContext context, Marshaller<T> marshaller) : IServerStreamWriter<T>
    {
        public Task WriteAsync(T message) => context.WriteMessageAsync(message, marshaller, flush: true);
    }
}
