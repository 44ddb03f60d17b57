namespace MedfusionDicom.Imaging;

/// <summary>An image cannot go through a model as asked (colour into a grayscale model, a mask of the wrong size, ...);
/// the message says what and where. It is the caller's input that is wrong, never an internal fault.</summary>
public sealed class ImagingException(string message) : Exception(message);
