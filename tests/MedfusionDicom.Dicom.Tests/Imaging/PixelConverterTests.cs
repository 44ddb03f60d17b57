using MedfusionDicom.Dicom.Imaging;
using static MedfusionDicom.Dicom.Tests.Imaging.PixelTestData;

namespace MedfusionDicom.Dicom.Tests.Imaging;

public sealed class PixelConverterTests
{
    [Fact]
    public void SignedSixteenBitWithRescale()
    {
        var frame = U16(unchecked((ushort)-5), 100, unchecked((ushort)short.MinValue), short.MaxValue);
        var result = DicomPixelConverter.ToFloat32(frame, Gray(2, 2, signed: true), rescaleSlope: 2, rescaleIntercept: -10);
        Assert.Equal([-20f, 190f, -65546f, 65524f], result.Data);
        Assert.Equal(1, result.Channels);
    }

    [Fact]
    public void TwelveBitsStoredIgnoresGarbageAboveHighBit()
    {
        // 0xF123: the top nibble is overlay/garbage, the stored 12 bits are 0x123.
        var unsigned = DicomPixelConverter.ToFloat32(U16(0xF123, 0x0FFF), Gray(1, 2, bitsStored: 12));
        Assert.Equal([0x123, 4095f], unsigned.Data);
        // Signed 12-bit: 0x800 is -2048, 0xFFF is -1, whatever sits above bit 11.
        var signed = DicomPixelConverter.ToFloat32(U16(0x7800, 0x0FFF, 0x07FF), Gray(1, 3, bitsStored: 12, signed: true));
        Assert.Equal([-2048f, -1f, 2047f], signed.Data);
        // High bit 15 with 12 bits stored: the value sits in the top bits, the low nibble is garbage.
        var shifted = DicomPixelConverter.ToFloat32(U16(0x123F), Gray(1, 1, bitsStored: 12, highBit: 15));
        Assert.Equal([(float)0x123], shifted.Data);
    }

    [Fact]
    public void Monochrome1IsReportedNotInverted()
    {
        var frame = new byte[] { 0, 200 };
        var result = DicomPixelConverter.ToFloat32(frame, Gray(1, 2, bitsAllocated: 8, bitsStored: 8, photometric: "MONOCHROME1"), 1, 5);
        Assert.True(result.IsInverted);
        Assert.Equal([5f, 205f], result.Data);
        Assert.False(DicomPixelConverter.ToFloat32(frame, Gray(1, 2, bitsAllocated: 8, bitsStored: 8)).IsInverted);
    }

    [Fact]
    public void RgbPlanarConfigurationsGiveTheSameInterleavedPixels()
    {
        byte[] interleaved = [1, 2, 3, 4, 5, 6];
        byte[] planar = [1, 4, 2, 5, 3, 6];
        var d = new DicomPixelDescription(1, 2, 3, 8, 8, 7, 0, "RGB", 0, 1);
        var a = DicomPixelConverter.ToFloat32(interleaved, d);
        var b = DicomPixelConverter.ToFloat32(planar, d with { PlanarConfiguration = 1 });
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], a.Data);
        Assert.Equal(a.Data, b.Data);
        Assert.Equal(3, b.Channels);
    }

    [Fact]
    public void YbrFullAndYbrFull422BecomeRgb()
    {
        // BT.601 full-range YCbCr of pure red, green and blue (as libjpeg computes them).
        byte[] ybr = [76, 85, 255, 150, 44, 21, 29, 255, 107];
        var d = new DicomPixelDescription(1, 3, 3, 8, 8, 7, 0, "YBR_FULL", 0, 1);
        var rgb = DicomPixelConverter.ToFloat32(ybr, d).Data;
        float[] expected = [255, 0, 0, 0, 255, 0, 0, 0, 255];
        for (var i = 0; i < expected.Length; i++) Assert.InRange(rgb[i], expected[i] - 1.5f, expected[i] + 1.5f);

        // 422: Y1 Y2 Cb Cr per pair; both pixels share the chroma of red.
        byte[] ybr422 = [76, 76, 85, 255];
        var pair = DicomPixelConverter.ToFloat32(ybr422, d with { Columns = 2, PhotometricInterpretation = "YBR_FULL_422" }).Data;
        for (var i = 0; i < 6; i++) Assert.InRange(pair[i], expected[i % 3] - 1.5f, expected[i % 3] + 1.5f);
    }

    [Fact]
    public void BadInputRaisesCodecExceptions()
    {
        Assert.Throws<DicomCodecException>(() => DicomPixelConverter.ToFloat32(new byte[3], Gray(2, 2)));
        Assert.Throws<DicomCodecException>(() => DicomPixelConverter.ToFloat32(new byte[8], Gray(2, 2, bitsStored: 17)));
        Assert.Throws<DicomCodecException>(() => DicomPixelConverter.ToFloat32(new byte[8], Gray(2, 2, photometric: "PALETTE COLOR")));
        Assert.Throws<DicomCodecException>(() => DicomPixelConverter.FromFloat32([1f, float.NaN]));
        Assert.Throws<DicomCodecException>(() => DicomPixelConverter.FromFloat32([1f], new DicomStoreOptions(BitsStored: 17)));
    }

    [Fact]
    public void IntegralValuesThatFitAreStoredExactly()
    {
        var stored = DicomPixelConverter.FromFloat32([-1024f, 0f, 2047f], new DicomStoreOptions(BitsStored: 12, Signed: true));
        Assert.Equal((1.0, 0.0), (stored.RescaleSlope, stored.RescaleIntercept));
        Assert.Equal((16, 12, 11, 1), (stored.BitsAllocated, stored.BitsStored, stored.HighBit, stored.PixelRepresentation));
        var back = DicomPixelConverter.ToFloat32(stored.Data, Gray(1, 3, bitsStored: 12, signed: true), stored.RescaleSlope, stored.RescaleIntercept);
        Assert.Equal([-1024f, 0f, 2047f], back.Data);
    }

    [Fact]
    public void UnsignedStorageShiftsIntegralDataWithAnIntercept()
    {
        var stored = DicomPixelConverter.FromFloat32([-1024f, 0f, 1000f], new DicomStoreOptions(BitsStored: 12));
        Assert.Equal((1.0, -1024.0), (stored.RescaleSlope, stored.RescaleIntercept));
        Assert.Equal(U16(0, 1024, 2024), stored.Data);
    }

    [Fact]
    public void RealValuesAreSpreadOverTheStoredRangeAndRecovered()
    {
        float[] values = [0.5f, -3.25f, 17.125f, 1e-3f, 9.99f];
        var stored = DicomPixelConverter.FromFloat32(values, new DicomStoreOptions(BitsStored: 8));
        Assert.Equal(8, stored.BitsAllocated);
        Assert.Equal(values.Length, stored.Data.Length);
        Assert.Contains((byte)0, stored.Data);
        Assert.Contains((byte)255, stored.Data);
        Assert.Equal(0, stored.ClampedCount);
        var d = Gray(1, values.Length, bitsAllocated: 8, bitsStored: 8);
        var back = DicomPixelConverter.ToFloat32(stored.Data, d, stored.RescaleSlope, stored.RescaleIntercept).Data;
        for (var i = 0; i < values.Length; i++) Assert.InRange(back[i], values[i] - stored.RescaleSlope / 2 - 1e-4, values[i] + stored.RescaleSlope / 2 + 1e-4);
    }

    [Fact]
    public void ChosenRescaleIsUsedAndOutOfRangeValuesAreClampedAndCounted()
    {
        var stored = DicomPixelConverter.FromFloat32([0f, 0.5f, 1000f, -1f], new DicomStoreOptions(BitsStored: 16, RescaleSlope: 0.5, RescaleIntercept: 0));
        Assert.Equal(U16(0, 1, 2000, 0), stored.Data);
        Assert.Equal(1, stored.ClampedCount);
    }

    [Fact]
    public void StoredPixelsSetTheirAttributesSoThatTheFrameReadsBack()
    {
        float[] values = [0.1f, 0.2f, 0.3f, 0.4f];
        var stored = DicomPixelConverter.FromFloat32(values, new DicomStoreOptions(BitsStored: 16, Signed: true));
        var ds = PixelTestData.Dataset(Gray(2, 2), new DicomElement(DicomTag.PixelData, DicomVR.OW, stored.Data));
        stored.ApplyTo(ds);
        Assert.True(ds.GetString(DicomTag.RescaleSlope).Length <= 16);
        var back = DicomPixelData.Create(ds).ToFloat32(0).Data;
        for (var i = 0; i < values.Length; i++) Assert.InRange(back[i], values[i] - 1e-5, values[i] + 1e-5);
    }

    [Theory]
    [InlineData(16, false, 1.0, 0.0)]
    [InlineData(12, true, 0.5, -1024.0)]
    [InlineData(8, false, 2.0, 10.0)]
    [InlineData(7, true, 1.0, 0.0)]
    public void QuantizingIntoSamplesMatchesQuantizeThenPack(int bits, bool signed, double slope, double intercept)
    {
        var random = new Random(bits);
        var values = Enumerable.Range(0, 5000).Select(_ => (float)(random.NextDouble() * 300000 - 150000) / (bits > 8 ? 1 : 500)).ToArray();
        values[0] = 0.5f;
        values[1] = -0.5f;
        var q = DicomPixelConverter.Quantize(values, new DicomStoreOptions(bits, signed, slope, intercept));
        var expected = DicomPixelConverter.Pack(q.Values, bits, signed, slope, intercept);
        var data = new byte[expected.Data.Length];
        // Two calls on halves, as a caller going a block at a time makes them.
        var bytes = bits <= 8 ? 1 : 2;
        var clamped = DicomPixelConverter.QuantizeInto(values.AsSpan(0, 2500), data, bits, signed, slope, intercept) +
            DicomPixelConverter.QuantizeInto(values.AsSpan(2500), data.AsSpan(2500 * bytes), bits, signed, slope, intercept, 2500);
        Assert.Equal(expected.Data, data);
        Assert.Equal(q.ClampedCount, clamped);
        Assert.True(clamped > 0);
        var ex = Assert.Throws<DicomCodecException>(() => DicomPixelConverter.QuantizeInto([1f, float.NaN], data, bits, signed, slope, intercept, 100));
        Assert.Contains("value 101", ex.Message);
    }

    [Theory]
    [InlineData(16, 12, 11, false)]
    [InlineData(16, 12, 15, true)]
    [InlineData(16, 16, 15, true)]
    [InlineData(8, 8, 7, false)]
    [InlineData(16, 6, 5, true)]
    public void StoredValuesPackDirectlyAsPackPacksThem(int allocated, int stored, int highBit, bool signed)
    {
        var random = new Random(stored);
        var frame = new byte[64 * allocated / 8];
        random.NextBytes(frame);
        var d = Gray(8, 8, allocated, stored, highBit, signed);
        var expected = DicomPixelConverter.Pack(DicomPixelConverter.ToStoredValues(frame, d), stored, signed);
        var packed = DicomPixelConverter.PackStoredValues(frame, d);
        Assert.Equal(expected.Data, packed.Data);
        Assert.Equal((expected.BitsAllocated, expected.BitsStored, expected.HighBit, expected.PixelRepresentation),
            (packed.BitsAllocated, packed.BitsStored, packed.HighBit, packed.PixelRepresentation));
        Assert.Equal(expected.Data, DicomPixelConverter.FromPacked(packed.Data, stored, signed).Data);
    }

    [Fact]
    public void PackedSamplesFromElsewhereAreCheckedAgainstBitsStored()
    {
        Assert.Contains("4096 at 1", Assert.Throws<DicomCodecException>(() => DicomPixelConverter.FromPacked(U16(4095, 4096), 12, false)).Message);
        // Signed 12 bits: -2048 fits, -2049 does not.
        Assert.Equal(2, DicomPixelConverter.FromPacked(U16(unchecked((ushort)-2048), 2047), 12, true).Data.Length / 2);
        Assert.Throws<DicomCodecException>(() => DicomPixelConverter.FromPacked(U16(unchecked((ushort)-2049)), 12, true));
        Assert.Throws<DicomCodecException>(() => DicomPixelConverter.FromPacked([1, 2, 3], 16, false));
    }

    [Fact]
    public void SamplesWidenAndNarrowBetweenEightAndSixteenBits()
    {
        byte[] signed8 = [0x80, 0xFF, 0x00, 0x7F];
        var wide = DicomPixelConverter.ResizeSamples(signed8, 1, 2, signed: true);
        Assert.Equal(U16(unchecked((ushort)-128), unchecked((ushort)-1), 0, 127), wide);
        Assert.Equal(signed8, DicomPixelConverter.ResizeSamples(wide, 2, 1, signed: true));
        Assert.Equal(U16(0x80, 0xFF, 0, 0x7F), DicomPixelConverter.ResizeSamples(signed8, 1, 2, signed: false));
        Assert.Contains("256 at 0", Assert.Throws<DicomCodecException>(() => DicomPixelConverter.ResizeSamples(U16(256), 2, 1, signed: false)).Message);
        Assert.Throws<DicomCodecException>(() => DicomPixelConverter.ResizeSamples(U16(unchecked((ushort)-129)), 2, 1, signed: true));
    }
}
