namespace MedfusionDicom.Torch;

/// <summary>
/// Collects the tensors created on this thread while it is the innermost scope and disposes them with it,
/// as TorchSharp's DisposeScope: <c>using var scope = torch.NewDisposeScope();</c>. Keep a result with
/// <see cref="MoveToOuter{T}"/> (or <c>tensor.MoveToOuterDisposeScope()</c>).
/// </summary>
public sealed class DisposeScope : IDisposable
{
    [ThreadStatic] private static DisposeScope? current;
    internal static DisposeScope? Current => current;

    public DisposeScope? OuterScope { get; }
    public HashSet<IDisposable> Disposables { get; } = new(ReferenceEqualityComparer.Instance);
    private bool disposed;

    internal DisposeScope()
    {
        OuterScope = current;
        current = this;
    }

    internal static void Register(torch.Tensor t)
    {
        var scope = current;
        if (scope is null) return;
        scope.Disposables.Add(t);
        t.OwningDisposeScope = scope;
    }

    /// <summary>Adds a disposable (e.g. a tensor created outside) to this scope.</summary>
    public T Include<T>(T disposable) where T : IDisposable
    {
        if (disposable is torch.Tensor t) { t.OwningDisposeScope?.Disposables.Remove(t); t.OwningDisposeScope = this; }
        Disposables.Add(disposable);
        return disposable;
    }

    public T MoveToOuter<T>(T disposable) where T : IDisposable => MoveToOther(disposable, OuterScope);

    public T MoveToOther<T>(T disposable, DisposeScope? scope) where T : IDisposable
    {
        Disposables.Remove(disposable);
        if (disposable is torch.Tensor t) t.OwningDisposeScope = null;
        if (scope is not null) scope.Include(disposable);
        return disposable;
    }

    public T Detach<T>(T disposable) where T : IDisposable => MoveToOther(disposable, null);

    public void MoveToOuter(params IDisposable[] disposables) { foreach (var d in disposables) MoveToOuter(d); }

    public void DisposeEverything() => DisposeEverythingBut();

    public void DisposeEverythingBut(params IDisposable[] keep)
    {
        var keepSet = new HashSet<IDisposable>(keep, ReferenceEqualityComparer.Instance);
        var all = Disposables.ToArray();
        Disposables.Clear();
        foreach (var d in all)
        {
            if (keepSet.Contains(d)) { Disposables.Add(d); continue; }
            if (d is torch.Tensor t) t.OwningDisposeScope = null;
            d.Dispose();
        }
    }

    internal void Forget(torch.Tensor t) => Disposables.Remove(t);

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        DisposeEverything();
        if (current == this) current = OuterScope;
        else throw new TorchException("dispose scopes must be disposed in the reverse order of their creation, on the thread that created them");
    }
}

public static partial class torch
{
    /// <summary>Opens a dispose scope on this thread; dispose it to free every tensor created inside.</summary>
    public static DisposeScope NewDisposeScope() => new();

    /// <summary>The grad-mode guard of <see cref="no_grad"/>/<see cref="enable_grad"/>: restores the mode on Dispose.</summary>
    public sealed class GradModeGuard : IDisposable
    {
        private readonly int previous;
        private bool disposed;
        internal GradModeGuard(bool enabled) => Native.NativeMethods.Check(Native.NativeMethods.ts_grad_mode(enabled ? 1 : 0, out previous));
        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            Native.NativeMethods.Check(Native.NativeMethods.ts_grad_mode(previous, out _));
        }
    }

    /// <summary>Disables gradient recording on this thread until the result is disposed.</summary>
    public static IDisposable no_grad() => new GradModeGuard(false);
    public static IDisposable enable_grad(bool enabled = true) => new GradModeGuard(enabled);
    public static bool is_grad_enabled() { Native.NativeMethods.Check(Native.NativeMethods.ts_grad_mode(-1, out int p)); return p != 0; }
    public static void set_grad_enabled(bool enabled) => Native.NativeMethods.Check(Native.NativeMethods.ts_grad_mode(enabled ? 1 : 0, out _));
}
