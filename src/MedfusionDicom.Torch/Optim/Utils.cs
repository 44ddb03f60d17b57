using MedfusionDicom.Torch.Modules;
using MedfusionDicom.Torch.Native;

namespace MedfusionDicom.Torch;

public static partial class torch
{
    public static partial class nn
    {
        public static partial class utils
        {
            /// <summary>Scales the gradients so that their total norm is at most max_norm; returns the norm before clipping.</summary>
            public static unsafe double clip_grad_norm_(IEnumerable<Parameter> tensors, double max_norm, double norm_type = 2.0)
            {
                var ps = tensors.ToArray();
                var hs = ps.Select(p => p.Handle).ToArray();
                double total;
                fixed (IntPtr* ph = hs)
                    NativeMethods.Check(NativeMethods.ts_clip_grad_norm(ph, hs.Length, max_norm, norm_type, out total));
                GC.KeepAlive(ps);
                return total;
            }

            /// <summary>Clamps every gradient to [-clip_value, clip_value].</summary>
            public static void clip_grad_value_(IEnumerable<Parameter> tensors, double clip_value)
            {
                using var guard = no_grad();
                foreach (var p in tensors)
                {
                    using var g = p.grad;
                    g?.clamp_(-clip_value, clip_value);
                }
            }
        }
    }
}

/// <summary>
/// Exponential moving average of a module's parameters (and a copy of its buffers), as used for diffusion
/// model weights: ema = decay·ema + (1−decay)·param after each optimizer step.
/// </summary>
public sealed class ExponentialMovingAverage : IDisposable
{
    private readonly List<(string name, torch.Tensor shadow)> shadows = new();
    public double Decay { get; }
    public long Updates { get; private set; }

    public ExponentialMovingAverage(torch.nn.Module module, double decay = 0.9999)
    {
        if (decay < 0 || decay > 1) throw new TorchException($"EMA decay must be in [0, 1], got {decay}");
        Decay = decay;
        using var guard = torch.no_grad();
        foreach (var (n, t) in module.state_dict())
            shadows.Add((n, t.detach().clone().DetachFromDisposeScope()));
    }

    /// <summary>Folds the module's current weights into the average (floating tensors; others are copied).</summary>
    /// <summary>decay overrides <see cref="Decay"/> for this update, e.g. for a warm-up that lets the average follow
    /// the early, fast-changing weights instead of staying near the initialisation.</summary>
    public void Update(torch.nn.Module module, double? decay = null)
    {
        using var guard = torch.no_grad();
        var current = module.state_dict();
        double d = decay ?? Decay;
        foreach (var (n, s) in shadows)
        {
            var t = current[n];
            if (s.is_floating_point()) s.lerp_(t, 1 - d);
            else s.copy_(t);
        }
        Updates++;
    }

    /// <summary>Copies the averaged weights into the module (e.g. an inference copy).</summary>
    public void CopyTo(torch.nn.Module module)
    {
        using var guard = torch.no_grad();
        var target = module.state_dict();
        foreach (var (n, s) in shadows) target[n].copy_(s);
    }

    public Dictionary<string, torch.Tensor> state_dict() => shadows.ToDictionary(x => x.name, x => x.shadow);

    public void Dispose()
    {
        foreach (var (_, s) in shadows) s.Dispose();
        shadows.Clear();
    }
}
