using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Derived;
using MedfusionDicom.Dicom.Imaging;
using MedfusionDicom.Dicom.Tests.Fixtures;

namespace MedfusionDicom.Imaging.Tests;

/// <summary>The one path from DICOM through a model and back, with models whose answers are known.</summary>
public class DicomImageProcessorTests
{
    private const string Corpus = "/usr/lib/python3/dist-packages/pydicom/data/test_files";

    private static readonly DerivedImageProcessing Processing = new()
    {
        DerivationDescription = "test processing",
        DerivationCodes = [DicomCodes.Smoothing],
        AlgorithmName = "Test",
        AlgorithmVersion = "1",
        SeriesDescription = "processed",
    };

    private static ModelImageSpec Spec(int window, int scale = 1, bool mask = false) => new()
    {
        WindowSize = window, Scale = scale, TakesMask = mask, Intensity = IntensityNormalization.OfStoredRange, BytesPerPixel = 2048,
    };

    private static DicomDataset Open(string name) => DicomFile.Open(Path.Combine(Corpus, name)).Dataset;

    private static void AssertValid(DicomDataset derived)
    {
        var report = Dciodvfy.Run(derived);
        Assert.True(report.Errors.All(DciodvfyReport.IsToolGap), string.Join("\n", report.Errors));
    }

    public static TheoryData<string> MultiFrameSources => ["mr", "xa"];

    [Theory]
    [MemberData(nameof(MultiFrameSources))]
    public void Every_frame_comes_back_processed_in_one_derived_instance_in_order(string kind)
    {
        var source = kind == "mr" ? MultiFrameFixtures.HeartMr() : MultiFrameFixtures.AngioXa();
        var image = SourceImage.Open(source);
        // Negation in model space mirrors an 8-bit value v to 255 - v: every frame's answer is known.
        var model = new PixelwiseModel(Spec(image.Width), v => -v);
        var pixels = new DicomImageProcessor(model, new TilingOptions { MaxBatchSize = 8 }).Process(image);
        var derived = new DerivedImageBuilder(Processing).Build(source, pixels, 1).Dataset;

        var frames = image.FrameCount;
        Assert.Equal(kind == "mr" ? 16 : 96, frames);
        Assert.Equal(frames, derived.GetSingleValue<int>(DicomTag.NumberOfFrames));
        var result = SourceImage.Open(derived);
        for (var k = 0; k < frames; k++)
            Assert.Equal(image.StoredValues(k).Select(v => 255 - v), result.StoredValues(k));
        Assert.True(model.BatchSizes.All(b => b <= 8) && model.BatchSizes.Sum() == frames);
        AssertValid(derived);
    }

    [Fact]
    public void Progress_names_the_frames_and_the_windows_as_they_run()
    {
        var image = SourceImage.Open(MultiFrameFixtures.AngioXa());
        var reports = new List<ImagingProgress>();
        var tiling = new TilingOptions { MaxBatchSize = 8, MemoryBudgetMegabytes = 1, Overlap = 0 };
        var model = new PixelwiseModel(Spec(64) with { BytesPerPixel = 65 }, v => v);
        new DicomImageProcessor(model, tiling).Process(image, progress: new Recorder(reports));
        // 128 x 128 frames just over a 1 MB budget: four 64 x 64 windows a frame, 32 windows a batch of 8 frames.
        Assert.Equal(new ImagingProgress(0, 96, 0, 32), reports[0]);
        Assert.Contains(new ImagingProgress(8, 96, 32, 32), reports);
        Assert.Equal(new ImagingProgress(96, 96, 0, 0), reports[^1]);
        Assert.Equal(12, reports.Count(r => r.Windows == 0));
    }

    private sealed class Recorder(List<ImagingProgress> reports) : IProgress<ImagingProgress>
    {
        public void Report(ImagingProgress value) => reports.Add(value);
    }

    [Fact]
    public void Monochrome1_reaches_the_model_as_the_same_anatomy_in_monochrome2_would_and_keeps_its_polarity()
    {
        // The same anatomy twice: stored as MONOCHROME1 (white is low), and as MONOCHROME2 with every value mirrored.
        var mono1 = MultiFrameFixtures.AngioXa().AddOrUpdate(DicomTag.PhotometricInterpretation, "MONOCHROME1");
        var stored = DicomPixelData.Create(mono1).GetFrame(0).ToArray();
        var mono2 = MultiFrameFixtures.SetImagePixel(MultiFrameFixtures.AngioXa(), 128, 8, 8,
            MultiFrameFixtures.FramePixels(96, 128, 128, 1, 8).Select(v => (byte)(255 - v)).ToArray());
        var seen1 = new PixelwiseModel(Spec(128), v => v);
        var seen2 = new PixelwiseModel(Spec(128), v => v);
        var out1 = new DicomImageProcessor(seen1).Process(SourceImage.Open(mono1));
        new DicomImageProcessor(seen2).Process(SourceImage.Open(mono2));
        Assert.Equal(seen2.Inputs.Select(i => i.Data), seen1.Inputs.Select(i => i.Data));
        // Inverted on the way in once and back once: the output is MONOCHROME1 with the source's own values.
        Assert.Equal("MONOCHROME1", out1.PhotometricInterpretation);
        Assert.Equal(stored, out1.Data[..stored.Length].ToArray());
    }

    [Fact]
    public void Signed_ct_with_an_intercept_keeps_every_pixel_outside_the_mask_bit_for_bit()
    {
        var source = Open("CT_small.dcm");
        var image = SourceImage.Open(source);
        Assert.True(image.Encoding.Signed);
        Assert.Equal(-1024, image.Encoding.RescaleIntercept);
        var mask = ImageMask.Box(image.Width, image.Height, 40, 30, 24, 20);
        var pixels = new DicomImageProcessor(new PixelwiseModel(Spec(128, mask: true), v => v + 0.01f)).Process(image, mask);
        var before = DicomPixelData.Create(source).GetNativeFrame(0).Data.ToArray();
        var after = pixels.Data.ToArray();
        var changed = 0;
        for (var i = 0; i < mask.Length; i++)
        {
            var same = before[2 * i] == after[2 * i] && before[2 * i + 1] == after[2 * i + 1];
            if (!mask[i]) Assert.True(same, $"pixel {i % image.Width},{i / image.Width} outside the mask changed");
            else if (!same) changed++;
        }
        Assert.True(changed > mask.Count(m => m) / 2);
        var derived = new DerivedImageBuilder(Processing with { DerivationCodes = [DicomCodes.PixelByPixelMask] }).Build(source, pixels, 1).Dataset;
        Assert.Equal(source.GetString(DicomTag.RescaleIntercept), derived.GetString(DicomTag.RescaleIntercept));
        AssertValid(derived);
    }

    [Fact]
    public void Super_resolution_scales_rows_columns_and_pixel_spacing()
    {
        var source = Open("MR_small.dcm");
        var image = SourceImage.Open(source);
        var pixels = new DicomImageProcessor(new PixelwiseModel(Spec(64, scale: 2), v => v)).Process(image);
        var derived = new DerivedImageBuilder(Processing with { DerivationCodes = [DicomCodes.SpatialResampling] }).Build(source, pixels, 1).Dataset;
        Assert.Equal((image.Height * 2, image.Width * 2), (derived.GetSingleValue<int>(DicomTag.Rows), derived.GetSingleValue<int>(DicomTag.Columns)));
        var before = source.GetValues<double>(DicomTag.PixelSpacing);
        Assert.Equal(before.Select(s => s / 2), derived.GetValues<double>(DicomTag.PixelSpacing));
        // Nearest-neighbour "super-resolution": each source value four times, in the source's encoding.
        var upsampled = SourceImage.Open(derived).StoredValues(0);
        var original = image.StoredValues(0);
        Assert.Equal(original[0], upsampled[0]);
        Assert.Equal(original[image.Width + 1], upsampled[2 * (2 * image.Width) + 2]);
        AssertValid(derived);
    }

    [Fact]
    public void Colour_input_to_a_grayscale_model_is_refused_naming_its_photometric_interpretation()
    {
        var ex = Assert.Throws<ImagingException>(() => SourceImage.Open(Open("SC_rgb_small_odd.dcm")));
        Assert.Contains("Photometric Interpretation RGB", ex.Message);
        Assert.Contains("grayscale", ex.Message);
    }

    [Fact]
    public void A_mask_that_does_not_fit_or_a_missing_one_is_an_error_of_the_input()
    {
        var image = SourceImage.Open(Open("CT_small.dcm"));
        var inpainter = new DicomImageProcessor(new PixelwiseModel(Spec(128, mask: true), v => v));
        Assert.Contains("give a mask", Assert.Throws<ImagingException>(() => inpainter.Process(image)).Message);
        Assert.Contains("pixels", Assert.Throws<ImagingException>(() => inpainter.Process(image, new bool[10])).Message);
        Assert.Contains("all zero", Assert.Throws<ImagingException>(() => inpainter.Process(image, new bool[128 * 128])).Message);
    }

    [Fact]
    public void Generated_images_are_secondary_capture_in_their_cards_range_and_pass_dciodvfy()
    {
        var output = new Image2D(4, 2, [-1f, -0.5f, 0f, 0.5f, 1f, 1f, -1f, 0f]);
        var pixels = DicomImageProcessor.Synthetic(output, IntensityNormalization.Range(0, 255));
        Assert.Equal(new byte[] { 0, 64, 128, 191, 255, 255, 0, 128 }, pixels.Data.ToArray());
        var derived = new DerivedImageBuilder(Processing with { IsSynthetic = true }).Build(null, pixels, 1).Dataset;
        Assert.Equal("US", derived.GetString(DicomTag.RescaleType));
        AssertValid(derived);
        Assert.Throws<ImagingException>(() => DicomImageProcessor.Synthetic(output, IntensityNormalization.PerImage));
    }
}
