namespace MedfusionDicom.Imaging.Tests;

public class IntensityTests
{
    [Fact]
    public void The_stored_range_of_8_bits_is_the_training_sets_divide_by_127_5_minus_1()
    {
        var values = Enumerable.Range(0, 256).Select(v => (float)v).ToArray();
        var window = IntensityNormalization.OfStoredRange.WindowFor(values, monochrome1: false, ValueRange.OfStored(8, signed: false));
        var image = window.ToModel(values, 16, 16);
        for (var v = 0; v < 256; v++) Assert.Equal(v / 127.5f - 1f, image.Data[v], 5);
        Assert.Equal(values, window.FromModel(image).Select(v => MathF.Round(v)));
    }

    [Fact]
    public void Monochrome1_is_inverted_once_on_the_way_in_and_once_on_the_way_out()
    {
        var values = new float[] { 0, 100, 4095, 2000 };
        var range = ValueRange.OfStored(12, signed: false);
        var plain = IntensityNormalization.OfStoredRange.WindowFor(values, false, range);
        var inverted = IntensityNormalization.OfStoredRange.WindowFor(values, true, range);
        var a = plain.ToModel(values, 2, 2);
        var b = inverted.ToModel(values, 2, 2);
        Assert.Equal(a.Data.Select(v => -v), b.Data);
        Assert.Equal(1f, b.Data[0]); // the lowest MONOCHROME1 value is white: dense, +1 in model space
        Assert.Equal(values, inverted.FromModel(b).Select(v => MathF.Round(v)));
    }

    [Fact]
    public void Min_max_spreads_each_image_over_the_model_range_and_a_constant_image_survives()
    {
        var window = IntensityNormalization.PerImage.WindowFor([-1024f, 0f, 976f, -24f], false, storedRange: null);
        Assert.Equal([-1f, 0.024f, 1f, 0f], window.ToModel([-1024f, 0f, 976f, -24f], 2, 2).Data.Select(v => MathF.Round(v, 3)));
        var flat = IntensityNormalization.PerImage.WindowFor([7f, 7f], false, null);
        Assert.Equal([7f, 7f], flat.FromModel(flat.ToModel([7f, 7f], 2, 1)));
    }

    [Fact]
    public void A_fixed_range_clips_and_a_stored_range_needs_a_stored_encoding()
    {
        var window = IntensityNormalization.Range(0, 255).WindowFor([300f, -5f], false, null);
        Assert.Equal([1f, -1f], window.ToModel([300f, -5f], 2, 1).Data);
        var ex = Assert.Throws<ImagingException>(() => IntensityNormalization.OfStoredRange.WindowFor([0.5f], false, null));
        Assert.Contains("stored integer values", ex.Message);
        Assert.Throws<ImagingException>(() => IntensityNormalization.Range(5, 5).Validate("card"));
    }

    [Fact]
    public void Stored_ranges_follow_bits_sign_and_the_modality_lut()
    {
        Assert.Equal(new ValueRange(0, 4095), ValueRange.OfStored(12, false));
        Assert.Equal(new ValueRange(-32768 - 1024, 32767 - 1024), ValueRange.OfStored(16, true, 1, -1024));
        Assert.Equal(new ValueRange(-255, 0), ValueRange.OfStored(8, false, -1, 0));
    }

    [Theory]
    [InlineData(12, false, 1.0, 0.0, false)]
    [InlineData(16, true, 1.0, -1024.0, true)]
    [InlineData(8, false, 0.5, 3.0, false)]
    public void A_model_output_packs_a_block_at_a_time_as_quantize_then_pack_does(int bits, bool signed, double slope, double intercept, bool inverted)
    {
        var encoding = new StoredEncoding(bits, signed, slope, intercept);
        var random = new Random(bits);
        // Larger than one block, with values past [-1, 1] that the window clips.
        var output = new Image2D(131, 97, Enumerable.Range(0, 131 * 97).Select(_ => (float)(random.NextDouble() * 2.4 - 1.2)).ToArray());
        var window = new IntensityWindow(encoding.Range.Low, encoding.Range.High, inverted);
        var expected = encoding.Pack(encoding.Quantize(window.FromModel(output)));
        var packed = encoding.PackModelOutput(output, window);
        Assert.Equal(expected.Data, packed.Data);
        Assert.Equal((expected.BitsAllocated, expected.RescaleSlope, expected.RescaleIntercept), (packed.BitsAllocated, packed.RescaleSlope, packed.RescaleIntercept));
    }

    [Fact]
    public void Known_samples_are_kept_byte_for_byte_whatever_their_width()
    {
        bool[] unknown = [true, false, true];
        byte[] result = [1, 2, 3, 4, 5, 6], source = [9, 9, 8, 8, 7, 7];
        KnownPixels.KeepSamples(result, source, 2, unknown);
        Assert.Equal([1, 2, 8, 8, 5, 6], result);
        byte[] narrow = [1, 2, 3];
        KnownPixels.KeepSamples(narrow, [7, 8, 9], 1, unknown);
        Assert.Equal([1, 8, 3], narrow);
        Assert.Throws<ImagingException>(() => KnownPixels.KeepSamples(narrow, [7, 8, 9], 3, unknown));
    }
}
