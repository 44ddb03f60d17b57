using MedfusionDicom.Torch;
using System.CommandLine;
using MedfusionDicom.Worker;
using MedfusionDicom.Worker.Models;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MedfusionDicom.Cli.Commands;

/// <summary>`medfusion worker`: serve the models over gRPC (medfusion.v1.InferenceWorker and grpc.health.v1.Health).</summary>
internal static class WorkerCommands
{
    public static Command Create()
    {
        var port = new Option<int>("--port") { Description = "TCP port to listen on", DefaultValueFactory = _ => 50051 };
        var models = new Option<string>("--models") { Description = "Folder with one sub-folder per model (default: ./models, else the repository's bundled models)" };
        var listen = new Option<string>("--listen") { Description = "Address to listen on (0.0.0.0 to accept other hosts)", DefaultValueFactory = _ => "127.0.0.1" };
        var cert = new Option<string?>("--tls-cert") { Description = "Certificate (PEM or PFX) to serve TLS with ALPN h2; cleartext HTTP/2 without it" };
        var key = new Option<string?>("--tls-key") { Description = "Private key (PEM) of --tls-cert, when it is in its own file" };
        var batching = new Option<bool>("--batching")
        {
            Description = "Batch concurrent requests with the same settings into one forward pass (worth it on a GPU; on a CPU it was slower)",
        };
        var device = DeviceOptions.Create();
        var cmd = new Command("worker", "Serve the diffusion models over gRPC until stopped (Ctrl+C)") { port, models, listen, cert, key, batching, device };
        CliAction.Set(cmd, async (parse, ct) =>
        {
            // A device that is not there is bad input: say so in one line before the host starts (and logs a trace).
            if (Given(parse, device)) TorchDevices.Resolve(parse.GetValue(device));
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = false, Args = [] });
            builder.Configuration.AddEnvironmentVariables("MEDFUSION_");
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
            builder.Services.Configure<WorkerOptions>(builder.Configuration.GetSection(WorkerOptions.SectionName));
            // Options given on the command line win over configuration (MEDFUSION_Worker__Port=...); the rest keep it.
            builder.Services.PostConfigure<WorkerOptions>(o =>
            {
                if (Given(parse, port)) o.Port = parse.GetValue(port);
                if (Given(parse, listen)) o.ListenAddress = parse.GetValue(listen)!;
                if (Given(parse, models)) o.ModelsDirectory = parse.GetValue(models)!;
                else if (o.ModelsDirectory == new WorkerOptions().ModelsDirectory) o.ModelsDirectory = BundledModels.Folder();
                if (Given(parse, cert)) o.TlsCertificatePath = parse.GetValue(cert);
                if (Given(parse, key)) o.TlsKeyPath = parse.GetValue(key);
                if (parse.GetValue(batching)) o.Scheduler.DynamicBatching = true;
                if (Given(parse, device)) o.Device = parse.GetValue(device)!;
            });
            builder.Services.AddSingleton<IModelLoader>(sp => new DiffusionModelLoader(sp.GetRequiredService<IOptions<WorkerOptions>>().Value.Tiling, sp.GetRequiredService<IOptions<WorkerOptions>>().Value.Device));
            builder.Services.AddHostedService<WorkerHost>();
            builder.Services.AddHostedService<ParentProcessWatch>();
            using var host = builder.Build();
            await host.RunAsync(ct);
            return CliAction.Ok;
        });
        return cmd;
    }

    private static bool Given<T>(ParseResult parse, Option<T> option) => parse.GetResult(option) is { Implicit: false };
}
