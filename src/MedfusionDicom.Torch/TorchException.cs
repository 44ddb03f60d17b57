namespace MedfusionDicom.Torch;

/// <summary>An error reported by libtorch (its message, without the C++ backtrace) or by this binding.</summary>
public sealed class TorchException : Exception
{
    public TorchException(string message) : base(message) { }
    public TorchException(string message, Exception inner) : base(message, inner) { }
}
