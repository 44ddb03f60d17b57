using TorchSharp;

namespace MedfusionDicom.Torch.Serialization;

public static class ModuleCheckpoints
{
    /// <summary>
    /// Loads the weights of a <c>torch.save</c> file whose state dict is nested or prefixed: a PyTorch Lightning
    /// checkpoint (<c>{"state_dict": {"model.conv.weight": ...}, "optimizer_states": ..., "hyper_parameters": ...}</c>),
    /// as the released Medfusion checkpoints are. TorchSharp.PyBridge's <c>load_py</c> reads only a flat state dict and
    /// refuses these (SerializationTests shows both); plain state dicts and safetensors go through PyBridge. Nothing
    /// pickled is executed: <see cref="PyTorchCheckpoint"/> turns every object it does not know into inert data.
    /// </summary>
    /// <param name="key">The dictionary entry that holds the state dict (default: "state_dict" when present, else the root).</param>
    /// <param name="stripPrefix">A prefix every name carries in the file but not in the module, such as "model.".</param>
    public static T load_nested_checkpoint<T>(this T module, string path, string? key = null, string? stripPrefix = null, bool strict = true)
        where T : torch.nn.Module
    {
        var state = PyTorchCheckpoint.LoadStateDict(path, key, stripPrefix);
        try
        {
            var (missing, unexpected) = module.load_state_dict(state, strict);
            if (strict && (missing.Count > 0 || unexpected.Count > 0))
                throw new TorchException($"{path}: missing {string.Join(", ", missing)}; unexpected {string.Join(", ", unexpected)}");
        }
        finally
        {
            foreach (var tensor in state.Values) tensor.Dispose();
        }
        return module;
    }
}
