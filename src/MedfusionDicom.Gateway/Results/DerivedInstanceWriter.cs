using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Derived;
using MedfusionDicom.Dicom.IO;
using MedfusionDicom.Gateway.Inference;
using MedfusionDicom.Gateway.Ingest;
using MedfusionDicom.Gateway.Storage;
using MedfusionDicom.Imaging;

namespace MedfusionDicom.Gateway.Results;

/// <summary>A job's input that cannot be processed as it is (colour on a grayscale model, unreadable pixels): retrying will not help.</summary>
public sealed class UnprocessableInstanceException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Turns one source instance into its derived instance under one route: every frame goes to the workers (concurrently,
/// so that a worker's batching can fill), the results are packed in the source's stored encoding, and the derived-image
/// builder writes the instance. Everything is a function of the source and the route: the seed comes from the source
/// SOP Instance UID and the route, the UIDs are name-based on the route, its pipeline, the model and the source series,
/// so a re-run after a crash rewrites the same instance with the same pixels.
/// </summary>
public sealed class DerivedInstanceWriter(WorkerPool workers, InstanceFiles files)
{
    public const string AlgorithmVersion = "0.1";

    public async Task<(InstanceRecord Result, string Worker)> WriteAsync(InstanceRecord source, RouteOptions route, CancellationToken ct)
    {
        DicomDataset dataset;
        SourceImage image;
        try
        {
            dataset = (await DicomFile.OpenAsync(source.Path, cancellationToken: ct).ConfigureAwait(false)).Dataset;
            image = SourceImage.Open(dataset);
        }
        catch (DicomException ex)
        {
            throw new UnprocessableInstanceException($"the instance's pixels cannot be read: {ex.Message}", ex);
        }
        catch (ImagingException ex)
        {
            // The imaging path refuses what no model can take (colour, for one) with a message that says so.
            throw new UnprocessableInstanceException($"model '{route.Pipeline.Model}' cannot take this instance: {ex.Message}", ex);
        }

        var pipeline = route.Pipeline;
        var seed = Seed(source.SopInstanceUid, route.Name);
        var mask = pipeline.Task == "inpaint" ? WorkerImages.Mask(InpaintingMask(dataset, image, route), image.Width, image.Height) : null;
        var encoding = image.Encoding;
        var frames = await Task.WhenAll(Enumerable.Range(0, image.FrameCount).Select(async frame =>
        {
            var request = WorkerImages.FromFrame(image.ReadFrame(frame), image.Width, image.Height, encoding, image.IsMonochrome1);
            var (result, worker) = await workers.RunAsync(new InferenceCall(pipeline, request, mask, seed + (ulong)frame), ct).ConfigureAwait(false);
            var scale = (int)result.Width / image.Width;
            return (Packed: WorkerImages.ToPacked(result, image.Width * scale, image.Height * scale, encoding), Worker: worker,
                Width: (int)result.Width, Height: (int)result.Height);
        })).ConfigureAwait(false);

        var data = frames.Length == 1 ? frames[0].Packed.Data : Concatenate(frames.Select(f => f.Packed.Data).ToArray());
        var pixels = new DerivedPixelData(frames[0].Height, frames[0].Width, 1, image.Description.PhotometricInterpretation, frames[0].Packed.BitsAllocated,
            encoding.BitsStored, encoding.BitsStored - 1, encoding.Signed ? 1 : 0, data, frames.Length);
        var builder = new DerivedImageBuilder(Processing(route, source.SeriesInstanceUid));
        var instanceNumber = source.InstanceNumber ?? 1;
        var derived = builder.Build(dataset, pixels, instanceNumber);
        var size = await files.WriteDurablyAsync(derived.SopInstanceUid, derived.ToFile(), ct).ConfigureAwait(false);
        var record = GatewayStoreHandler.Describe(derived.Dataset, files.PathOf(derived.SopInstanceUid), size, DicomTransferSyntax.ExplicitVRLittleEndian.UID.UID,
            "", "", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), derived: true, route: route.Name);
        return (record, frames[0].Worker);
    }

    /// <summary>
    /// What to fill: the instance's overlay plane when it has one (burned-in annotations get filled instead of blacked
    /// out), else the route's MaskBoxes.
    /// </summary>
    private static bool[] InpaintingMask(DicomDataset dataset, SourceImage image, RouteOptions route)
    {
        try
        {
            var mask = ImageMask.FromOverlay(dataset, image.Width, image.Height);
            var from = "the overlay plane (6000,3000)";
            if (mask is null)
            {
                if (route.Pipeline.MaskBoxes.Count == 0)
                    throw new UnprocessableInstanceException($"route '{route.Name}' inpaints, but it has no MaskBoxes and the instance has no overlay plane (6000,3000)");
                mask = ImageMask.Boxes(image.Width, image.Height, route.Pipeline.MaskBoxes);

                from = $"route '{route.Name}''s MaskBoxes";
            }

            ImageMask.Validate(mask, image.Width, image.Height, from);
            return mask;
        }
        catch (ImagingException ex)
        {
            throw new UnprocessableInstanceException(ex.Message, ex);
        }
    }

    /// <summary>How the route's pipeline is described in the derived instances, and the seed of their UIDs.</summary>
    private static DerivedImageProcessing Processing(RouteOptions route, string sourceSeriesUid)
    {
        var p = route.Pipeline;
        var settings = string.Create(CultureInfo.InvariantCulture, $"{p.Task} {p.Model} steps={p.Steps} strength={p.Strength:0.###} sampler={p.Sampler} masks={string.Join(';', p.MaskBoxes.Select(b => string.Join(',', b)))}");
        return new DerivedImageProcessing
        {
            DerivationDescription = $"Med-cDiff {p.Task} by the MedfusionDicom gateway, route '{route.Name}' ({settings})",
            DerivationCodes = p.Task switch
            {
                "denoise" => [DicomCodes.Smoothing],
                "super-resolve" => [DicomCodes.SpatialResampling],
                _ => [DicomCodes.PixelByPixelMask],
            },
            AlgorithmName = "Med-cDiff",
            AlgorithmVersion = AlgorithmVersion,
            ModelName = p.Model.Length <= 64 ? p.Model : p.Model[..64],
            SeriesDescription = Truncate($"{p.Task} ({route.Name})", 64),
            UidSeed = ["gateway", route.Name, settings, sourceSeriesUid],
        };
    }

    private static byte[] Concatenate(byte[][] frames)
    {
        var data = new byte[frames.Sum(f => (long)f.Length) <= Array.MaxLength ? frames.Sum(f => f.Length) : throw new UnprocessableInstanceException("the derived frames do not fit one instance's pixel data")];
        for (var f = 0; f < frames.Length; f++) frames[f].CopyTo(data.AsSpan(f * frames[0].Length));
        return data;
    }

    /// <summary>The sampler's seed: a function of the source instance and the route only.</summary>
    public static ulong Seed(string sopInstanceUid, string route) =>
        BitConverter.ToUInt64(SHA256.HashData(Encoding.UTF8.GetBytes(sopInstanceUid + "|" + route)), 0) & long.MaxValue;

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length];
}
