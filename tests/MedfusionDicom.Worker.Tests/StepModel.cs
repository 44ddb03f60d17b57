using System.Collections.Concurrent;
using MedfusionDicom.Imaging;
using MedfusionDicom.Worker.Models;

namespace MedfusionDicom.Worker.Tests;

/// <summary>
/// A test double of a diffusion model with a known answer: restoration negates the image, synthesis fills it with
/// the label's index scaled to [-1, 1] plus a seed-dependent offset. Each step takes <see cref="StepTime"/>, reports
/// progress and honours cancellation, as the real samplers do. It records every batch it ran.
/// </summary>
internal sealed class StepModel(ModelDescriptor descriptor) : IInferenceModel
{
    public ModelDescriptor Descriptor { get; } = descriptor;
    public TimeSpan StepTime { get; set; } = TimeSpan.FromMilliseconds(5);
    /// <summary>While reset, every step waits here: holds a job running for as long as a test needs, however slow the machine.</summary>
    public ManualResetEventSlim Gate { get; } = new(initialState: true);
    public ConcurrentQueue<int> BatchSizes { get; } = new();
    /// <summary>When set, every batch throws it (after its first step), as a model with a bug would.</summary>
    public Exception? Failure { get; set; }
    public int StepsRun => _stepsRun;
    /// <summary>The Linux nice value of the thread that ran the last batch (field 19 of /proc/thread-self/stat).</summary>
    public int LastNiceness { get; private set; } = int.MinValue;
    public int Running => _running;
    /// <summary>Steps completed when the batch's cancellation token fired (-1 if it did not).</summary>
    public int StepsWhenCancelled => _stepsWhenCancelled;
    private int _stepsWhenCancelled = -1;
    private int _stepsRun;
    private int _running;

    public static StepModel Restoration(string name, InferenceTask task, int width = 8, int height = 8, int inputWidth = 8, int inputHeight = 8, ModelImageSpec? image = null) =>
        new(new ModelDescriptor(name, task, width, height, inputWidth, inputHeight, [], ["ddim", "ddpm"], 10, 200, image));

    public static StepModel Synthesis(string name) =>
        new(new ModelDescriptor(name, InferenceTask.Synthesize, 8, 8, 8, 8, ["NORMAL", "PNEUMONIA"], ["ddim", "dpm++2m"], 10, 200));

    public IReadOnlyList<float[][]> Run(IReadOnlyList<InferenceInput> inputs, SamplerSettings settings, Action<int, int> onStep, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _running);
        try
        {
            BatchSizes.Enqueue(inputs.Count);
            if (OperatingSystem.IsLinux())
            {
                var stat = File.ReadAllText("/proc/thread-self/stat");
                LastNiceness = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[16], System.Globalization.CultureInfo.InvariantCulture);
            }
            using var _ = cancellationToken.Register(() => Interlocked.CompareExchange(ref _stepsWhenCancelled, _stepsRun, -1));
            for (var step = 1; step <= settings.Steps; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Gate.Wait(cancellationToken);
                Thread.Sleep(StepTime);
                Interlocked.Increment(ref _stepsRun);
                onStep(step, settings.Steps);
                if (Failure is { } failure) throw failure;
            }
            return inputs.Select(Answer).ToList();
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    public float[][] Answer(InferenceInput input)
    {
        var n = Descriptor.Width * Descriptor.Height;
        if (Descriptor.Task == InferenceTask.Synthesize)
        {
            var label = Descriptor.Labels.ToList().IndexOf(input.Label!);
            return Enumerable.Range(0, input.Count).Select(k => Enumerable.Repeat(label - 0.5f + ((int)(input.Seed % 7) + k) * 0.01f, n).ToArray()).ToArray();
        }
        var pixels = input.Image!.Data;
        var output = new float[n];
        for (var i = 0; i < n; i++) output[i] = input.Mask is { } m && !m[i % m.Length] ? pixels[i % pixels.Length] : -pixels[i % pixels.Length];
        return [output];
    }

    public void WarmUp() { }

    public void Dispose() { }
}
