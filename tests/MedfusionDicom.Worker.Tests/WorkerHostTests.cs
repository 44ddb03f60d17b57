using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;
using MedfusionDicom.Grpc.Client;
using MedfusionDicom.Worker.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MedfusionDicom.Worker.Tests;

public class WorkerHostTests
{
    /// <summary>Claims every folder and takes its time to load, so the test can look at the worker mid-start.</summary>
    private sealed class SlowLoader(TaskCompletionSource release) : IModelLoader
    {
        public bool CanLoad(string modelDirectory) => true;

        public IInferenceModel Load(string modelDirectory)
        {
            release.Task.Wait(TimeSpan.FromSeconds(30));
            return StepModel.Restoration(Path.GetFileName(modelDirectory), InferenceTask.Denoise);
        }
    }

    [Fact]
    public async Task Health_is_NOT_SERVING_while_models_load_then_SERVING()
    {
        var models = Directory.CreateTempSubdirectory("worker-host-");
        Directory.CreateDirectory(Path.Combine(models.FullName, "dn"));
        var release = new TaskCompletionSource();
        var options = Options.Create(new WorkerOptions { Port = 0, ModelsDirectory = models.FullName });
        using var host = new WorkerHost(options, [new SlowLoader(release)], NullLoggerFactory.Instance);
        await host.StartAsync(CancellationToken.None);
        try
        {
            var address = (await host.Addresses.WaitAsync(TimeSpan.FromSeconds(30)))[0];
            using var channel = GrpcClientChannel.ForAddress(address);
            var health = new Health.HealthClient(channel.CallInvoker);
            using var watch = health.Watch(new HealthCheckRequest { Service = "medfusion.v1.InferenceWorker" });
            var loading = await health.CheckAsync(new HealthCheckRequest());
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, loading.Status);
            Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, watch.ResponseStream.Current.Status);
            Assert.Contains("medfusion.v1.InferenceWorker", await ListServicesAsync(channel));
            release.SetResult();
            Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, watch.ResponseStream.Current.Status);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            HealthCheckResponse.Types.ServingStatus status;
            do
            {
                await Task.Delay(20);
                status = (await health.CheckAsync(new HealthCheckRequest { Service = "medfusion.v1.InferenceWorker" })).Status;
            }
            while (status != HealthCheckResponse.Types.ServingStatus.Serving && DateTime.UtcNow < deadline);
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, status);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
            models.Delete(recursive: true);
        }
    }

    /// <summary>What server reflection (v1alpha, as grpcurl asks) says the worker serves.</summary>
    private static async Task<List<string>> ListServicesAsync(GrpcClientChannel channel)
    {
        using var call = new ServerReflection.ServerReflectionClient(channel.CallInvoker).ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        return call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
    }
}
