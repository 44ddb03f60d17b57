using System.Text;
using MedfusionDicom.Dicom.IO;
using MedfusionDicom.Dicom.Imaging;

namespace MedfusionDicom.Dicom.Tests;

/// <summary>Absent values read as "not found" (or the default); present values that cannot be read fail, naming the tag.</summary>
public class UnreadableValueTests
{
    private static DicomDataset Image(Action<DicomDataset>? change = null)
    {
        var ds = new DicomDataset()
            .AddOrUpdate(DicomTag.Rows, (ushort)2)
            .AddOrUpdate(DicomTag.Columns, (ushort)2)
            .AddOrUpdate(DicomTag.BitsAllocated, (ushort)16);
        change?.Invoke(ds);
        return ds;
    }

    [Fact]
    public void Absent_and_empty_values_are_not_found()
    {
        var ds = new DicomDataset()
            .AddOrUpdate(new DicomElement(DicomTag.PixelRepresentation, DicomVR.US, ReadOnlyMemory<byte>.Empty))
            .AddOrUpdate(new DicomElement(DicomTag.NumberOfFrames, DicomVR.IS, Encoding.ASCII.GetBytes("  ")));
        Assert.False(ds.TryGetSingleValue<int>(DicomTag.BitsStored, out _));
        Assert.False(ds.TryGetSingleValue<int>(DicomTag.PixelRepresentation, out _));
        Assert.False(ds.TryGetSingleValue<int>(DicomTag.NumberOfFrames, out _));
        Assert.Equal(7, ds.GetSingleValueOrDefault(DicomTag.NumberOfFrames, 7));
    }

    [Fact]
    public void A_present_value_too_short_for_its_VR_throws_naming_the_tag()
    {
        var ds = new DicomDataset().AddOrUpdate(new DicomElement(DicomTag.PixelRepresentation, DicomVR.US, new byte[] { 1 }));
        var ex = Assert.Throws<DicomValueException>(() => ds.TryGetSingleValue<int>(DicomTag.PixelRepresentation, out _));
        Assert.Contains("(0028,0103) PixelRepresentation", ex.Message, StringComparison.Ordinal);
        Assert.Throws<DicomValueException>(() => ds.GetSingleValueOrDefault(DicomTag.PixelRepresentation, 0));
    }

    [Fact]
    public void A_present_value_that_does_not_parse_throws_naming_the_tag()
    {
        var ds = new DicomDataset().AddOrUpdate(new DicomElement(DicomTag.NumberOfFrames, DicomVR.IS, Encoding.ASCII.GetBytes("many")));
        var ex = Assert.Throws<DicomValueException>(() => ds.GetSingleValueOrDefault(DicomTag.NumberOfFrames, 1));
        Assert.Contains("(0028,0008) NumberOfFrames", ex.Message, StringComparison.Ordinal);
        Assert.Contains("many", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_sequence_where_a_value_is_expected_throws()
    {
        var ds = new DicomDataset().AddOrUpdate(new DicomSequence(DicomTag.BitsStored));
        var ex = Assert.Throws<DicomValueException>(() => ds.TryGetSingleValue<int>(DicomTag.BitsStored, out _));
        Assert.Contains("BitsStored", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pixel_description_fails_rather_than_reading_signed_pixels_as_unsigned()
    {
        var ds = Image(d => d.AddOrUpdate(new DicomElement(DicomTag.PixelRepresentation, DicomVR.US, new byte[] { 1 })));
        var ex = Assert.Throws<DicomValueException>(() => DicomPixelDescription.FromDataset(ds));
        Assert.Contains("PixelRepresentation", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pixel_description_fails_when_bits_stored_cannot_be_read()
    {
        var ds = Image(d => d.AddOrUpdate(new DicomElement(DicomTag.BitsStored, DicomVR.US, new byte[] { 12 })));
        var ex = Assert.Throws<DicomValueException>(() => DicomPixelDescription.FromDataset(ds));
        Assert.Contains("BitsStored", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pixel_description_uses_the_defaults_for_absent_elements()
    {
        var d = DicomPixelDescription.FromDataset(Image());
        Assert.Equal((16, 15, 0, 1, 1, "MONOCHROME2"), (d.BitsStored, d.HighBit, d.PixelRepresentation, d.SamplesPerPixel, d.NumberOfFrames, d.PhotometricInterpretation));
    }

    [Fact]
    public void A_file_with_an_unreadable_pixel_representation_still_reads_but_its_pixels_do_not()
    {
        // Implicit VR: the reader picks US or SS for Smallest Image Pixel Value from Pixel Representation, which here
        // has one byte (our writer would pad it, so the elements are written by hand).
        static byte[] Element(ushort group, ushort element, params byte[] value) =>
            [.. BitConverter.GetBytes(group), .. BitConverter.GetBytes(element), .. BitConverter.GetBytes(value.Length), .. value];
        byte[] bytes =
        [
            .. Element(0x0028, 0x0010, 2, 0), .. Element(0x0028, 0x0011, 2, 0), .. Element(0x0028, 0x0100, 16, 0),
            .. Element(0x0028, 0x0103, 1), .. Element(0x0028, 0x0106, 0xFF, 0xFF),
        ];
        var read = DicomReader.ReadDataset(bytes, DicomTransferSyntax.ImplicitVRLittleEndian);
        Assert.Equal(new byte[] { 0xFF, 0xFF }, read.GetBuffer(DicomTag.SmallestImagePixelValue).Memory.ToArray());
        Assert.Throws<DicomValueException>(() => DicomPixelDescription.FromDataset(read));
    }
}
