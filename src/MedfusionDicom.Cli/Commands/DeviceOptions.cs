using System.CommandLine;
using MedfusionDicom.Torch;

namespace MedfusionDicom.Cli.Commands;

/// <summary>The --device option of every verb that runs a model.</summary>
internal static class DeviceOptions
{
    public static Option<string> Create() => new("--device")
    {
        Description = "Where the model runs: cpu, cuda, cuda:N, or auto (the first CUDA device when there is one, else the CPU)",
        DefaultValueFactory = _ => TorchDevices.Auto,
    };

    public static TorchSharp.torch.Device Resolve(ParseResult parse, Option<string> option) => TorchDevices.Resolve(parse.GetValue(option));
}
