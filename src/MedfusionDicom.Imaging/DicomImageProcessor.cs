using MedfusionDicom.Dicom.Derived;

namespace MedfusionDicom.Imaging;

/// <summary>
/// Progress of an instance: the frames that are done, and of the frames now running, the windows done (one window
/// a frame when frames run whole).
/// </summary>
public readonly record struct ImagingProgress(int FramesDone, int Frames, int WindowsDone, int Windows);

/// <summary>
/// The one path from a DICOM image through a model and back: every frame is read as modality values, put in the
/// model's space under its intensity convention (MONOCHROME1 inverted once), run whole or tiled, brought back
/// (inverted back once), quantized in the source's stored encoding, and, where a mask says a pixel is known, given
/// back its stored value bit for bit. The result is the pixel data of one derived instance with as many frames as the
/// source, Scale times larger along each axis.
/// </summary>
public sealed class DicomImageProcessor
{
    private readonly IImageModel _model;
    private readonly TilingOptions _tiling;

    public DicomImageProcessor(IImageModel model, TilingOptions? tiling = null)
    {
        model.Spec.Validate("model");
        (tiling ??= new TilingOptions()).Validate();
        _model = model;
        _tiling = tiling;
    }

    /// <summary>Runs every frame. <paramref name="mask"/> (true = unknown, the source's size) applies to every frame; required by, and only for, an inpainting model.</summary>
    public DerivedPixelData Process(SourceImage source, bool[]? mask = null, IProgress<ImagingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var spec = _model.Spec;
        if (spec.TakesMask != mask is not null)
            throw new ImagingException(spec.TakesMask ? "this model inpaints: give a mask of the pixels to fill" : "this model takes no mask");
        if (mask is not null) ImageMask.Validate(mask, source.Width, source.Height);
        int width = source.Width * spec.Scale, height = source.Height * spec.Scale, frames = source.FrameCount;
        var encoding = source.Encoding;
        byte[]? data = null;
        var frameBytes = 0;
        var bitsAllocated = 0;
        // Frames go through the model a batch at a time, so a long cine loop never sits in memory as floats at once.
        for (var first = 0; first < frames; first += _tiling.MaxBatchSize)
        {
            var count = Math.Min(_tiling.MaxBatchSize, frames - first);
            var windows = new IntensityWindow[count];
            var inputs = new Image2D[count];
            var decoded = new SourceFrame[count];
            for (var k = 0; k < count; k++)
            {
                decoded[k] = source.ReadFrame(first + k);
                var values = decoded[k].ModalityValues();
                windows[k] = spec.Intensity.WindowFor(values, source.IsMonochrome1, encoding.Range);
                // Into model space in place: a large frame is held once as floats, not twice.
                windows[k].ToModel(values, values);
                inputs[k] = new Image2D(source.Width, source.Height, values);
            }
            var framesDone = first;
            var onWindows = progress is null ? null : new Progress(t => progress.Report(new ImagingProgress(framesDone, frames, t.Done, t.Total)));
            var outputs = TiledInference.Run(_model, inputs, Enumerable.Repeat(mask, count).ToList(), _tiling, onWindows, cancellationToken);
            for (var k = 0; k < count; k++)
            {
                var packed = encoding.PackModelOutput(outputs[k], windows[k]);
                if (mask is not null) KnownPixels.KeepSamples(packed.Data, decoded[k].PackedStoredValues().Data, encoding.BytesPerSample, mask);
                if (data is null)
                {
                    frameBytes = packed.Data.Length;
                    bitsAllocated = packed.BitsAllocated;
                    data = frames == 1 ? packed.Data : new byte[(long)frameBytes * frames <= Array.MaxLength ? frameBytes * frames
                        : throw new ImagingException($"{frames} frames of {width}x{height} do not fit one instance's pixel data")];
                }
                if (frames > 1) packed.Data.CopyTo(data.AsSpan((first + k) * frameBytes));
            }
            progress?.Report(new ImagingProgress(first + count, frames, 0, 0));
        }
        return new DerivedPixelData(height, width, 1, source.Description.PhotometricInterpretation, bitsAllocated, encoding.BitsStored,
            encoding.BitsStored - 1, encoding.Signed ? 1 : 0, data!, frames);
    }

    /// <summary>Reports synchronously: the caller's display follows the work, not a thread pool.</summary>
    private sealed class Progress(Action<TileProgress> report) : IProgress<TileProgress>
    {
        public void Report(TileProgress value) => report(value);
    }

    /// <summary>
    /// Pixels of a generated image: model output under <paramref name="intensity"/>'s fixed range (the range the training
    /// images had), rounded to integers, unsigned 8 bits when the range fits them, else 16; MONOCHROME2, rescale identity.
    /// </summary>
    public static DerivedPixelData Synthetic(Image2D output, IntensityNormalization intensity)
    {
        if (intensity.Mode != IntensityMode.Fixed)
            throw new ImagingException("a generative model's card needs a fixed intensity range: it says what range its outputs are in");
        var values = new IntensityWindow(intensity.Low, intensity.High, Inverted: false).FromModel(output);
        var signed = intensity.Low < 0;
        var bits = !signed && intensity.High <= 255 ? 8 : 16;
        var encoding = new StoredEncoding(bits, signed, 1, 0);
        var packed = encoding.Pack(encoding.Quantize(values));
        return new DerivedPixelData(output.Height, output.Width, 1, "MONOCHROME2", packed.BitsAllocated, packed.BitsStored, packed.HighBit,
            packed.PixelRepresentation, packed.Data)
        {
            RescaleSlope = 1,
            RescaleIntercept = 0,
            RescaleType = "US",
        };
    }
}
