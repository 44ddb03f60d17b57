using MedfusionDicom.Imaging;

namespace MedfusionDicom.Worker.Models;

public enum InferenceTask
{
    Synthesize,
    Denoise,
    SuperResolve,
    Inpaint,
}

public static class InferenceTaskNames
{
    /// <summary>"synthesize", "denoise", "super-resolve" or "inpaint", as ListModels reports it.</summary>
    public static string ApiName(this InferenceTask task) => task switch
    {
        InferenceTask.Synthesize => "synthesize",
        InferenceTask.Denoise => "denoise",
        InferenceTask.SuperResolve => "super-resolve",
        _ => "inpaint",
    };
}

/// <summary>
/// What a loaded model does and the image sizes it was trained on (reported by ListModels); restoration models take
/// images of any size (<see cref="ImageSpec"/> says how they are scaled and tiled).
/// </summary>
public sealed record ModelDescriptor(
    string Name,
    InferenceTask Task,
    int Width,
    int Height,
    int InputWidth,
    int InputHeight,
    IReadOnlyList<string> Labels,
    IReadOnlyList<string> Samplers,
    int DefaultSteps,
    int MaxSteps,
    ModelImageSpec? Image = null,
    string Device = "cpu")
{
    /// <summary>The task name as the API reports it.</summary>
    public string TaskName => Task.ApiName();

    /// <summary>How the model's images map to its space: the model's card, or per image min..max when the model has none.</summary>
    public ModelImageSpec ImageSpec => Image ?? new ModelImageSpec
    {
        WindowSize = Width,
        Scale = Math.Max(1, Width / Math.Max(1, InputWidth)),
        TakesMask = Task == InferenceTask.Inpaint,
    };
}

/// <summary>
/// Sampler settings shared by every item of a batch; the seed is per item (see <see cref="InferenceInput"/>),
/// so an item's result does not depend on what it was batched with.
/// </summary>
/// <param name="Strength">Restoration's start as a fraction of the schedule; 0 = the model's default.</param>
public sealed record SamplerSettings(int Steps, float Eta, float GuidanceScale, string Sampler, float Strength = 0);

/// <summary>
/// One request's input, in model space: a single-channel image in [-1, 1] of any size; a mask marks with true the
/// pixels to be generated (inpainting).
/// </summary>
public sealed record InferenceInput(ulong Seed, int Count = 1, string? Label = null, Image2D? Image = null, bool[]? Mask = null);

/// <summary>A loaded model that runs batches of inputs with shared sampler settings.</summary>
public interface IInferenceModel : IDisposable
{
    ModelDescriptor Descriptor { get; }

    /// <summary>
    /// Runs the inputs as one batch. Returns, for each input, its <see cref="InferenceInput.Count"/> output images in
    /// [-1, 1], row-major: Width x Height for synthesis, the input's size times the scale for restoration. Calls <paramref name="onStep"/> after each sampling step and checks
    /// <paramref name="cancellationToken"/> between steps, so a cancelled batch stops within one step.
    /// </summary>
    IReadOnlyList<float[][]> Run(IReadOnlyList<InferenceInput> inputs, SamplerSettings settings, Action<int, int> onStep, CancellationToken cancellationToken);

    /// <summary>Runs a tiny job once so the first real request does not pay for first-use costs.</summary>
    void WarmUp();
}

/// <summary>Turns a model folder into a loaded model, when it recognises the folder's kind.</summary>
public interface IModelLoader
{
    bool CanLoad(string modelDirectory);
    IInferenceModel Load(string modelDirectory);
}
