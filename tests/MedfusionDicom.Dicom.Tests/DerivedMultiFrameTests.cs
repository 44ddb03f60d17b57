using MedfusionDicom.Dicom.Derived;
using MedfusionDicom.Dicom.Tests.Fixtures;

namespace MedfusionDicom.Dicom.Tests;

/// <summary>Multi-frame and enhanced derived images: which IOD, every frame in order, and their per-frame attributes.</summary>
public class DerivedMultiFrameTests
{
    private const string ByteSC = "1.2.840.10008.5.1.4.1.1.7.2";
    private const string WordSC = "1.2.840.10008.5.1.4.1.1.7.3";
    private const string TrueColorSC = "1.2.840.10008.5.1.4.1.1.7.4";

    private static DerivedImage Derive(DicomDataset source, DerivedPixelData pixels, DerivedImageProcessing? processing = null) =>
        new DerivedImageBuilder(processing ?? DerivedCases.Denoising).Build(source, pixels, 1);

    private static byte[] PixelBytes(DicomDataset ds) => ((DicomElement)ds[DicomTag.PixelData]!).Buffer.Memory.ToArray();

    /// <summary>
    /// The derived image of <paramref name="source"/>, checked to be in <paramref name="expectedClass"/> with the
    /// source's frame count and exactly the given bytes, so that frame i is the caller's frame i.
    /// </summary>
    private static DerivedImage DeriveFrames(DicomDataset source, DerivedPixelData pixels, string expectedClass, DerivedImageProcessing? processing = null)
    {
        var image = Derive(source, pixels, processing);
        Assert.Equal(expectedClass, image.SopClassUid);
        var ds = image.Dataset;
        var frames = source.GetSingleValue<int>(DicomTag.NumberOfFrames);
        Assert.Equal(frames, ds.GetSingleValue<int>(DicomTag.NumberOfFrames));
        var written = PixelBytes(ds);
        Assert.Equal(pixels.Data.ToArray(), written);
        // Each frame is its own (FramePixels puts the frame's index in its first sample), in the caller's order.
        for (var f = 0; f < frames; f++)
            Assert.Equal(f, MultiFrameFixtures.Frame(written, frames, f).Span[0]);
        return image;
    }

    [Fact]
    public void A_16_frame_8_bit_mr_becomes_grayscale_byte_sc_with_its_frames_in_order()
    {
        var source = MultiFrameFixtures.HeartMr();
        var image = DeriveFrames(source, DerivedFixtures.Frames(source, 8, 8), ByteSC);
        var ds = image.Dataset;

        Assert.Contains("single-frame", image.SecondaryCaptureReason);
        Assert.Equal(DicomVR.OB, ds[DicomTag.PixelData]!.ValueRepresentation);
        // No frame timing in the source: each frame is labelled with its source frame's number.
        Assert.Equal(DicomTag.FrameLabelVector, ds.GetSingleValue<DicomTag>(DicomTag.FrameIncrementPointer));
        Assert.Equal(Enumerable.Range(1, 16).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), ds.GetValues<string>(DicomTag.FrameLabelVector));
        Assert.False(ds.Contains(DicomTag.FrameTime));
        // A.8.3.4: unscaled values, identity presentation.
        Assert.Equal(1.0, ds.GetSingleValue<double>(DicomTag.RescaleSlope));
        Assert.Equal(0.0, ds.GetSingleValue<double>(DicomTag.RescaleIntercept));
        Assert.Equal("US", ds.GetString(DicomTag.RescaleType));
        Assert.Equal("IDENTITY", ds.GetString(DicomTag.PresentationLUTShape));
        Assert.Equal("WSD", ds.GetString(DicomTag.ConversionType));
        Assert.Equal(source.GetString(DicomTag.SOPInstanceUID),
            ds.GetSequence(DicomTag.SourceImageSequence).Items.Single().GetString(DicomTag.ReferencedSOPInstanceUID));
        // The heart is unpaired: no General Series Laterality.
        Assert.False(ds.Contains(DicomTag.Laterality));
    }

    [Fact]
    public void Sixteen_bit_frames_become_grayscale_word_sc_and_keep_their_rescale()
    {
        var source = MultiFrameFixtures.HeartMr();
        var pixels = DerivedFixtures.Frames(source, 16, 12) with { RescaleSlope = 2, RescaleIntercept = -100, RescaleType = "HU" };
        var image = DeriveFrames(source, pixels, WordSC);

        Assert.Equal(DicomVR.OW, image.Dataset[DicomTag.PixelData]!.ValueRepresentation);
        Assert.Equal(2.0, image.Dataset.GetSingleValue<double>(DicomTag.RescaleSlope));
        Assert.Equal(-100.0, image.Dataset.GetSingleValue<double>(DicomTag.RescaleIntercept));
        Assert.Equal("HU", image.Dataset.GetString(DicomTag.RescaleType));
    }

    [Fact]
    public void An_xa_cine_becomes_multi_frame_sc_and_keeps_its_frame_time()
    {
        var source = MultiFrameFixtures.AngioXa();
        var image = DeriveFrames(source, DerivedFixtures.Frames(source, 8, 8), ByteSC);
        var ds = image.Dataset;

        Assert.StartsWith("X-Ray Angiographic Image Storage is not an IOD", image.SecondaryCaptureReason, StringComparison.Ordinal);
        Assert.Equal(DicomTag.FrameTime, ds.GetSingleValue<DicomTag>(DicomTag.FrameIncrementPointer));
        Assert.Equal(66.7, ds.GetSingleValue<double>(DicomTag.FrameTime));
        Assert.Equal(15, ds.GetSingleValue<int>(DicomTag.CineRate));
        Assert.False(ds.Contains(DicomTag.FrameLabelVector));
        Assert.Equal(["DERIVED", "SECONDARY", "SINGLE PLANE"], ds.GetValues<string>(DicomTag.ImageType));
    }

    [Fact]
    public void A_frame_time_vector_stays_the_frame_increment_pointer()
    {
        var source = MultiFrameFixtures.AngioXa();
        source.Remove(DicomTag.FrameTime);
        source.AddOrUpdate(DicomTag.FrameIncrementPointer, DicomTag.FrameTimeVector);
        source.AddOrUpdate(DicomTag.FrameTimeVector, [0.0, .. Enumerable.Repeat(66.7, 95)]);
        var ds = Derive(source, DerivedFixtures.Frames(source, 8, 8)).Dataset;
        Assert.Equal(DicomTag.FrameTimeVector, ds.GetSingleValue<DicomTag>(DicomTag.FrameIncrementPointer));
        Assert.Equal(96, ds.GetValueCount(DicomTag.FrameTimeVector));
    }

    [Fact]
    public void Super_resolved_frames_scale_the_spacing_of_every_frame()
    {
        var source = MultiFrameFixtures.AngioXa();
        var pixels = DerivedFixtures.Frames(source, 16, 12, scale: 2);
        var image = DeriveFrames(source, pixels, WordSC, DerivedCases.SuperResolution);
        var ds = image.Dataset;

        Assert.Equal(256, ds.GetSingleValue<int>(DicomTag.Rows));
        Assert.Equal([0.15, 0.15], ds.GetValues<double>(DicomTag.ImagerPixelSpacing));
        Assert.Equal("NO", ds.GetSequence(DicomTag.SourceImageSequence).Items[0].GetString(DicomTag.SpatialLocationsPreserved));
    }

    [Fact]
    public void Rgb_frames_become_true_color_sc_without_the_sources_modality_lut()
    {
        var source = MultiFrameFixtures.HeartMr();
        source.AddOrUpdate(DicomTag.RescaleSlope, 2.0).AddOrUpdate(DicomTag.RescaleIntercept, 0.0);
        var pixels = DerivedFixtures.Frames(source, 8, 8, samples: 3);
        var image = Derive(source, pixels);

        Assert.Equal(TrueColorSC, image.SopClassUid);
        Assert.Equal(16, image.Dataset.GetSingleValue<int>(DicomTag.NumberOfFrames));
        Assert.Equal(pixels.Data.ToArray(), PixelBytes(image.Dataset));
        Assert.False(image.Dataset.Contains(DicomTag.RescaleSlope));
        Assert.False(image.Dataset.Contains(DicomTag.PresentationLUTShape));
        Assert.Equal(0, image.Dataset.GetSingleValue<int>(DicomTag.PlanarConfiguration));
    }

    [Fact]
    public void Multi_frame_pixels_that_no_iod_holds_are_refused_with_the_reason()
    {
        var source = MultiFrameFixtures.HeartMr();
        // Byte SC cannot rescale; multi-frame SC is unsigned; the frame count is the source's.
        var rescaled = Assert.Throws<DicomValueException>(() => Derive(source, DerivedFixtures.Frames(source, 8, 8) with { RescaleSlope = 2, RescaleIntercept = 0 }));
        Assert.Contains("Rescale Slope 1", rescaled.Message);
        var signed = Assert.Throws<DicomValueException>(() => Derive(source, DerivedFixtures.Frames(source, 16, 12) with { PixelRepresentation = 1 }));
        Assert.Contains("unsigned", signed.Message);
        var frames = DerivedFixtures.Frames(source, 8, 8);
        var fewer = Assert.Throws<DicomValueException>(() => Derive(source, frames with { NumberOfFrames = 15, Data = frames.Data[..(15 * 64 * 64)] }));
        Assert.Contains("16 frames", fewer.Message);
        var single = DerivedCases.Corpus("MR_small.dcm");
        Assert.Throws<DicomValueException>(() => Derive(single, DerivedFixtures.Frames(source, 16, 12)));
    }

    [Fact]
    public void An_enhanced_mr_keeps_its_class_and_each_frames_functional_groups()
    {
        var source = MultiFrameFixtures.EnhancedMr();
        var pixels = DerivedFixtures.Frames(source, 16, 12);
        var image = DeriveFrames(source, pixels, source.GetString(DicomTag.SOPClassUID));
        var ds = image.Dataset;

        Assert.Null(image.SecondaryCaptureReason);
        Assert.Equal(["DERIVED", "PRIMARY", "VOLUME", "NONE"], ds.GetValues<string>(DicomTag.ImageType));
        var shared = ds.GetSequence(DicomTag.SharedFunctionalGroupsSequence).Items.Single();
        Assert.Equal(["DERIVED", "PRIMARY", "VOLUME", "NONE"],
            shared.GetSequence(DicomTag.MRImageFrameTypeSequence).Items[0].GetValues<string>(DicomTag.FrameType));
        // The other shared groups come over as they were.
        Assert.Equal(10.0, shared.GetSequence(DicomTag.MRTimingAndRelatedParametersSequence).Items[0].GetSingleValue<double>(DicomTag.FlipAngle));

        var frames = ds.GetSequence(DicomTag.PerFrameFunctionalGroupsSequence).Items;
        var sourceFrames = source.GetSequence(DicomTag.PerFrameFunctionalGroupsSequence).Items;
        Assert.Equal(4, frames.Count);
        for (var i = 0; i < frames.Count; i++)
        {
            // One to one: each frame keeps its own position and stack index, and references its own source frame.
            Assert.Equal(i + 1, frames[i].GetSequence(DicomTag.FrameContentSequence).Items[0].GetSingleValue<int>(DicomTag.InStackPositionNumber));
            Assert.Equal(sourceFrames[i].GetSequence(DicomTag.PlanePositionSequence).Items[0].GetValues<double>(DicomTag.ImagePositionPatient),
                frames[i].GetSequence(DicomTag.PlanePositionSequence).Items[0].GetValues<double>(DicomTag.ImagePositionPatient));
            var derivation = frames[i].GetSequence(DicomTag.DerivationImageSequence).Items.Single();
            Assert.Equal("113087", derivation.GetSequence(DicomTag.DerivationCodeSequence).Items[0].GetString(DicomTag.CodeValue));
            var reference = derivation.GetSequence(DicomTag.SourceImageSequence).Items.Single();
            Assert.Equal(source.GetString(DicomTag.SOPInstanceUID), reference.GetString(DicomTag.ReferencedSOPInstanceUID));
            Assert.Equal(i + 1, reference.GetSingleValue<int>(DicomTag.ReferencedFrameNumber));
            Assert.Equal("YES", reference.GetString(DicomTag.SpatialLocationsPreserved));
        }
        // What single-frame images say in General Image lives in the functional groups of an enhanced one.
        Assert.False(ds.Contains(DicomTag.SourceImageSequence));
        Assert.False(ds.Contains(DicomTag.RescaleSlope));
        Assert.False(ds.Contains(DicomTag.PulseSequenceName));
        Assert.Equal(source.GetString(DicomTag.SeriesInstanceUID), ds.GetSequence(DicomTag.ReferencedSeriesSequence).Items[0].GetString(DicomTag.SeriesInstanceUID));
        // Frame Laterality says the side: no General Series Laterality.
        Assert.False(ds.Contains(DicomTag.Laterality));
    }

    [Fact]
    public void A_super_resolved_enhanced_mr_regrids_every_frame_and_shares_its_new_rescale_and_window()
    {
        var source = MultiFrameFixtures.EnhancedMr();
        var pixels = DerivedFixtures.Frames(source, 16, 12, scale: 2) with { RescaleSlope = 0.5, RescaleIntercept = 10, WindowCenter = [500], WindowWidth = [1000] };
        var ds = Derive(source, pixels, DerivedCases.SuperResolution).Dataset;

        var shared = ds.GetSequence(DicomTag.SharedFunctionalGroupsSequence).Items.Single();
        Assert.Equal([1.0, 1.0], shared.GetSequence(DicomTag.PixelMeasuresSequence).Items[0].GetValues<double>(DicomTag.PixelSpacing));
        var transformation = shared.GetSequence(DicomTag.PixelValueTransformationSequence).Items.Single();
        Assert.Equal(0.5, transformation.GetSingleValue<double>(DicomTag.RescaleSlope));
        Assert.Equal(10.0, transformation.GetSingleValue<double>(DicomTag.RescaleIntercept));
        Assert.Equal("US", transformation.GetString(DicomTag.RescaleType));
        Assert.Equal(500.0, shared.GetSequence(DicomTag.FrameVOILUTSequence).Items.Single().GetSingleValue<double>(DicomTag.WindowCenter));
        var frames = ds.GetSequence(DicomTag.PerFrameFunctionalGroupsSequence).Items;
        for (var i = 0; i < frames.Count; i++)
        {
            // The first pixel's centre moves a quarter of the old 2 mm spacing along both in-plane axes.
            Assert.Equal([-32.5, -32.5, 2.0 * i], frames[i].GetSequence(DicomTag.PlanePositionSequence).Items[0].GetValues<double>(DicomTag.ImagePositionPatient));
            Assert.False(frames[i].Contains(DicomTag.PixelValueTransformationSequence));
            Assert.Equal("NO", frames[i].GetSequence(DicomTag.DerivationImageSequence).Items[0]
                .GetSequence(DicomTag.SourceImageSequence).Items[0].GetString(DicomTag.SpatialLocationsPreserved));
        }
        Assert.False(ds.Contains(DicomTag.WindowCenter));
    }

    [Fact]
    public void An_enhanced_source_is_refused_rather_than_flattened_into_secondary_capture()
    {
        var source = MultiFrameFixtures.EnhancedMr();
        // 10 bits stored is no Enhanced MR encoding; as SC the functional groups would be lost.
        var ten = Assert.Throws<DicomValueException>(() => Derive(source, DerivedFixtures.Frames(source, 16, 10)));
        Assert.Contains("functional groups", ten.Message);
        // The Derivation Image group's code is Type 1.
        var uncoded = Assert.Throws<DicomValueException>(() => Derive(source, DerivedFixtures.Frames(source, 16, 12), DerivedCases.Denoising with { DerivationCodes = [] }));
        Assert.Contains("Derivation Code", uncoded.Message);
    }

    [Theory]
    [InlineData("HEART", "", null, null)]
    [InlineData("HEART", "R", null, null)]
    [InlineData("KNEE", null, null, "")]
    [InlineData("KNEE", "R", null, "R")]
    [InlineData("KNEE", "R", "R", null)]
    [InlineData("", null, null, "")]
    public void General_series_laterality_follows_the_body_part_and_image_laterality(string bodyPart, string? laterality, string? imageLaterality, string? expected)
    {
        var source = DerivedCases.Corpus("MR_small.dcm");
        source.AddOrUpdate(DicomTag.BodyPartExamined, bodyPart);
        if (laterality is null) source.Remove(DicomTag.Laterality);
        else source.AddOrUpdate(DicomTag.Laterality, laterality);
        if (imageLaterality is not null) source.AddOrUpdate(DicomTag.ImageLaterality, imageLaterality);
        var ds = Derive(source, DerivedFixtures.SamePixels(source)).Dataset;
        if (expected is null) Assert.False(ds.Contains(DicomTag.Laterality));
        else Assert.Equal(expected, ds.GetString(DicomTag.Laterality));
    }

    [Fact]
    public void Synthetic_sc_names_the_type_of_its_rescale()
    {
        var pixels = new DerivedPixelData(8, 8, 1, "MONOCHROME2", 16, 12, 11, 0, new byte[128]) { RescaleSlope = 2, RescaleIntercept = -1000 };
        var builder = new DerivedImageBuilder(DerivedCases.Synthesis);
        Assert.Equal("US", builder.Build(null, pixels, 1).Dataset.GetString(DicomTag.RescaleType));
        Assert.Equal("HU", builder.Build(null, pixels with { RescaleType = "HU" }, 2).Dataset.GetString(DicomTag.RescaleType));
    }
}
