using System.CommandLine;
using MedfusionDicom.Cli.Commands;
using MedfusionDicom.Dicom.Codecs;

// Every verb that reads pixels (transcode, store, train, the restoration verbs) decodes compressed files through the
// default registry, so the codecs are registered once here rather than by each verb.
GdcmCodecs.RegisterDefault();
// Keep freed tensor memory for the next step instead of page-faulting it in again (README, "Tensor runtime").
MedfusionDicom.Torch.CpuMemory.KeepFreedMemory();

var root = new RootCommand("medfusion: a DICOM gateway for generative medical imaging (Medfusion, Med-cDiff)")
{
    DicomCommands.Create(),
    DeidentifyCommand.Create(),
    CohortCommand.Create(),
    ModelCommands.CreateTrain(),
    WorkerCommands.Create(),
};
foreach (var command in DimseCommands.Create()) root.Subcommands.Add(command);
foreach (var verb in DiffusionCommands.Create()) root.Subcommands.Add(verb);
foreach (var verb in GatewayCommands.Create()) root.Subcommands.Add(verb);
// Ctrl+C cancels the verb; a training or sampler step can take a while on a CPU, so the verb gets time to finish the
// step (and write its checkpoint) instead of being killed after the default 2 s.
var parse = root.Parse(args);
var exitCode = await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(120) });
// A usage error (unknown option, missing argument) is bad input like any other; System.CommandLine would say 1, which
// scripts read as "the verb ran and failed".
return parse.Errors.Count > 0 ? CliAction.BadInput : exitCode;
