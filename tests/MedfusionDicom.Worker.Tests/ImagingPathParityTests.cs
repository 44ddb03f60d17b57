using System.Buffers.Binary;
using Google.Protobuf;
using Medfusion.V1;
using MedfusionDicom.Dicom;
using MedfusionDicom.Diffusion.Models;
using MedfusionDicom.Diffusion.Pipelines;
using MedfusionDicom.Diffusion.Schedulers;
using MedfusionDicom.Imaging;
using TorchSharp;
using MedfusionDicom.Torch;
using MedfusionDicom.Worker.Models;

namespace MedfusionDicom.Worker.Tests;

/// <summary>
/// The worker and the DICOM path that the CLI verbs and the gateway run give the same result for the same image,
/// model and seed: one conversion, so a MONOCHROME1 image reaches the model with the same polarity through both.
/// </summary>
public class ImagingPathParityTests
{
    private const string MrSmall = "/usr/lib/python3/dist-packages/pydicom/data/test_files/MR_small.dcm";
    private const int Steps = 4;
    private const ulong Seed = 11;

    [Fact]
    public async Task A_monochrome1_image_gives_the_same_values_through_the_worker_and_the_dicom_path()
    {
        var dataset = DicomFile.Open(MrSmall).Dataset.Clone().AddOrUpdate(DicomTag.PhotometricInterpretation, "MONOCHROME1");
        var source = SourceImage.Open(dataset);
        var directory = Path.Combine(BundledModelTests.RepoRoot(), "models", "cdiff-cxr-denoise");

        // The DICOM path, as `medfusion denoise` runs it.
        var (card, unet, scheduler) = ModelLoader.LoadDiffusion(directory);
        int[] viaDicom;
        using (unet)
        using (var generator = new torch.Generator(Seed))
        {
            var options = new SamplingOptions { Steps = Steps, Eta = 0, Strength = card.MaxStrength, Generator = generator };
            var model = new RestorationImageModel(ModelLoader.RestorationPipeline(card, unet, scheduler), card.ImageSpec(), SamplerKind.Ddim, options);
            var pixels = new DicomImageProcessor(model).Process(source);
            viaDicom = Enumerable.Range(0, source.Width * source.Height).Select(i => (int)BinaryPrimitives.ReadInt16LittleEndian(pixels.Data.Span[(2 * i)..])).ToArray();
        }

        // The worker, sent the same stored values as INT16.
        Assert.True(source.Encoding is { Signed: true, BitsStored: 16, RescaleSlope: 1, RescaleIntercept: 0 }, "MR_small is expected to be signed 16-bit without rescale");
        var stored = source.StoredValues(0);
        var data = new byte[stored.Length * 2];
        for (var i = 0; i < stored.Length; i++) BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(2 * i), (short)stored[i]);
        await using var worker = await WorkerFixture.StartAsync(null, new DiffusionModelLoader().Load(directory));
        async Task<int[]> ViaWorker(string photometric)
        {
            var image = new Image { Width = (uint)source.Width, Height = (uint)source.Height, Channels = 1, PixelType = PixelType.Int16, Data = ByteString.CopyFrom(data), PhotometricInterpretation = photometric };
            var updates = await worker.CollectAsync(
                new DenoiseRequest { Model = "cdiff-cxr-denoise", Image = image, Sampler = new SamplerOptions { Steps = Steps, Seed = Seed, Sampler = "ddim" } });
            var result = updates.Last(u => u.Image is not null).Image;
            Assert.Equal(photometric, result!.PhotometricInterpretation);
            return Enumerable.Range(0, stored.Length).Select(i => (int)BinaryPrimitives.ReadInt16LittleEndian(result.Data.Span[(2 * i)..])).ToArray();
        }

        Assert.Equal(viaDicom, await ViaWorker("MONOCHROME1"));
        // Polarity matters to the model: the same values called MONOCHROME2 come back different.
        Assert.NotEqual(viaDicom, await ViaWorker("MONOCHROME2"));
    }
}
