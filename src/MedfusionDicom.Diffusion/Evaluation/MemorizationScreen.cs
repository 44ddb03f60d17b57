using MedfusionDicom.Diffusion.Training;
using MedfusionDicom.Imaging;

namespace MedfusionDicom.Diffusion.Evaluation;

/// <summary>A sample's most similar training image: its position in the training source and their SSIM.</summary>
public readonly record struct NearestTrainingImage(int Index, double Ssim);

/// <summary>
/// Finds the training image most similar to a sample by SSIM (diffusion models memorize: a sample close to a training
/// image may copy it). SSIM against every training image is too slow on a CPU, so the <see cref="Candidates"/> nearest by
/// L2 on 16 x 16 thumbnails are scored; a memorized copy is also nearest in L2. The thumbnails are made once.
/// </summary>
public sealed class MemorizationScreen
{
    public const int Candidates = 32;

    private readonly IImageSource _training;
    private readonly List<float[]> _thumbnails;
    private readonly int _factor;

    public MemorizationScreen(IImageSource training, CancellationToken cancellationToken = default)
    {
        _training = training;
        _factor = Math.Max(1, training.Size / 16);
        _thumbnails = new List<float[]>(training.Count);
        for (var i = 0; i < training.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _thumbnails.Add(Degradations.Downsample(new Image2D(training.Size, training.Size, training.Read(i)), _factor).Data);
        }
    }

    /// <summary>How many training images a sample is compared with.</summary>
    public int TrainingImages => _training.Count;

    /// <summary>The most similar training image to <paramref name="sample"/> (model space, the training images' size).</summary>
    public NearestTrainingImage Nearest(Image2D sample)
    {
        if (sample.Width != _training.Size || sample.Height != _training.Size)
            throw new ArgumentException($"the sample is {sample.Width} x {sample.Height}; the training images are {_training.Size} x {_training.Size}");
        var thumb = Degradations.Downsample(sample, _factor).Data;
        var scored = new (double Distance, int Index)[_thumbnails.Count];
        for (var i = 0; i < _thumbnails.Count; i++)
        {
            var t = _thumbnails[i];
            double d = 0;
            for (var p = 0; p < t.Length; p++) d += (t[p] - thumb[p]) * (t[p] - thumb[p]);
            scored[i] = (d, i);
        }
        var candidates = scored.OrderBy(x => x.Distance).ThenBy(x => x.Index).Take(Candidates).Select(x => x.Index).ToArray();
        var reference = new SsimReference(sample);
        var ssims = new double[candidates.Length];
        Parallel.For(0, candidates.Length, k => ssims[k] = reference.Ssim(new Image2D(sample.Width, sample.Height, _training.Read(candidates[k]))));
        var best = new NearestTrainingImage(-1, double.NegativeInfinity);
        for (var k = 0; k < candidates.Length; k++)
            if (ssims[k] > best.Ssim) best = new NearestTrainingImage(candidates[k], ssims[k]);
        return best;
    }
}
