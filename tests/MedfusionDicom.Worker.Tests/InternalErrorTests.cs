using System.Collections.Concurrent;
using Medfusion.V1;
using Grpc.Core;
using MedfusionDicom.Worker.Models;
using MedfusionDicom.Worker.Service;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Worker.Tests;

/// <summary>A model failing is the worker's bug: callers get INTERNAL without its details (unless asked for), the log gets all of it.</summary>
public class InternalErrorTests
{
    private const string Secret = "/opt/medfusion/models/dn/weights.bin";

    private sealed class ListLogger : ILogger<InferenceWorkerService>
    {
        public ConcurrentQueue<(LogLevel Level, EventId Event, string Message, Exception? Exception)> Entries { get; } = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Enqueue((logLevel, eventId, formatter(state, exception), exception));
    }

    private static StepModel FailingModel()
    {
        var model = StepModel.Restoration("dn", InferenceTask.Denoise);
        try
        {
            throw new InvalidOperationException($"tensor shapes do not match in {Secret}");
        }
        catch (InvalidOperationException ex)
        {
            model.Failure = ex; // thrown once so that it carries a stack trace, as a real failure does
        }
        return model;
    }

    private static DenoiseRequest Request() => new()
    {
        Model = "dn",
        Image = new Image { Width = 8, Height = 8, Channels = 1, PixelType = PixelType.Uint8, Data = Google.Protobuf.ByteString.CopyFrom(new byte[64]) },
        Sampler = new SamplerOptions { Steps = 2 },
    };

    private static async Task<RpcException> DenoiseFailsAsync(WorkerFixture w)
    {
        return await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await w.CollectAsync(Request(), new CallOptions(new Metadata { { "x-request-id", "req-42" } }));
        });
    }

    [Fact]
    public async Task A_failing_model_answers_INTERNAL_without_the_exception_message_and_logs_it_with_the_stack_trace()
    {
        var logger = new ListLogger();
        await using var w = await WorkerFixture.StartAsync(null, detailedErrors: false, logger, FailingModel());
        var ex = await DenoiseFailsAsync(w);
        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.DoesNotContain(Secret, ex.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("tensor", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("internal error", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("req-42", ex.Status.Detail, StringComparison.Ordinal);

        var logged = Assert.Single(logger.Entries, e => e.Level == LogLevel.Error);
        Assert.Equal(8, logged.Event.Id);
        Assert.Contains("req-42", logged.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(logged.Exception);
        Assert.NotNull(logged.Exception!.StackTrace);
    }

    [Fact]
    public async Task With_detailed_errors_on_the_status_carries_the_message()
    {
        await using var w = await WorkerFixture.StartAsync(null, detailedErrors: true, logger: null, FailingModel());
        var ex = await DenoiseFailsAsync(w);
        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.Contains("tensor shapes do not match", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Detailed_errors_are_off_by_default_and_turned_on_by_Worker__EnableDetailedErrors()
    {
        Assert.False(new WorkerOptions().EnableDetailedErrors);
        // The worker reads MEDFUSION_-prefixed variables; a prefix of this test's own keeps other tests unaffected.
        var prefix = $"MEDFUSION_TEST_{Guid.NewGuid():N}_";
        Environment.SetEnvironmentVariable(prefix + "Worker__EnableDetailedErrors", "true");
        try
        {
            var config = new ConfigurationBuilder().AddEnvironmentVariables(prefix).Build();
            var options = config.GetSection(WorkerOptions.SectionName).Get<WorkerOptions>()!;
            Assert.True(options.EnableDetailedErrors);
        }
        finally
        {
            Environment.SetEnvironmentVariable(prefix + "Worker__EnableDetailedErrors", null);
        }
    }
}
