using TorchSharp;

namespace MedfusionDicom.Torch.Optim;

/// <summary>
/// Exponential moving average of a module's parameters (and a copy of its buffers), as diffusion models keep their
/// weights: ema = decay·ema + (1 − decay)·param after each optimizer step. TorchSharp has no EMA (PyTorch's is
/// torch.optim.swa_utils.AveragedModel); this is the part of it our training uses.
/// </summary>
public sealed class ExponentialMovingAverage : IDisposable
{
    private readonly List<(string Name, torch.Tensor Shadow)> _shadows = [];
    public double Decay { get; }
    public long Updates { get; private set; }

    public ExponentialMovingAverage(torch.nn.Module module, double decay = 0.9999)
    {
        if (decay is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(decay), decay, "EMA decay must be in [0, 1]");
        Decay = decay;
        using var guard = torch.no_grad();
        foreach (var (name, tensor) in module.state_dict())
            _shadows.Add((name, tensor.detach().clone().DetachFromDisposeScope()));
    }

    /// <summary>
    /// Folds the module's current weights into the average (floating tensors; others are copied). A decay given here
    /// overrides <see cref="Decay"/> for this update, e.g. for a warm-up that lets the average follow the early,
    /// fast-changing weights instead of staying near the initialisation.
    /// </summary>
    public void Update(torch.nn.Module module, double? decay = null)
    {
        using var guard = torch.no_grad();
        var current = module.state_dict();
        var d = decay ?? Decay;
        foreach (var (name, shadow) in _shadows)
        {
            var tensor = current[name];
            if (shadow.is_floating_point()) shadow.lerp_(tensor, 1 - d);
            else shadow.copy_(tensor);
        }
        Updates++;
    }

    /// <summary>Copies the averaged weights into the module (e.g. an inference copy).</summary>
    public void CopyTo(torch.nn.Module module)
    {
        using var guard = torch.no_grad();
        var target = module.state_dict();
        foreach (var (name, shadow) in _shadows) target[name].copy_(shadow);
    }

    public Dictionary<string, torch.Tensor> state_dict() => _shadows.ToDictionary(x => x.Name, x => x.Shadow);

    public void Dispose()
    {
        foreach (var (_, shadow) in _shadows) shadow.Dispose();
        _shadows.Clear();
    }
}
