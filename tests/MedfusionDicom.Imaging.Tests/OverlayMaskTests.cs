using MedfusionDicom.Dicom;

namespace MedfusionDicom.Imaging.Tests;

public class OverlayMaskTests
{
    private static DicomDataset Overlay(ushort rows, ushort columns, byte[] bits, short originRow = 1, short originColumn = 1) => new DicomDataset()
        .AddOrUpdate(DicomTag.OverlayRows, rows).AddOrUpdate(DicomTag.OverlayColumns, columns).AddOrUpdate(DicomTag.OverlayType, "G")
        .AddOrUpdate(new DicomElement(DicomTag.OverlayOrigin, DicomVR.SS, new byte[] { (byte)originRow, (byte)(originRow >> 8), (byte)originColumn, (byte)(originColumn >> 8) }))
        .AddOrUpdate(DicomTag.OverlayBitsAllocated, (ushort)1).AddOrUpdate(DicomTag.OverlayBitPosition, (ushort)0)
        .AddOrUpdate(new DicomElement(DicomTag.OverlayData, DicomVR.OW, bits));

    [Fact]
    public void No_overlay_plane_is_no_mask()
    {
        Assert.Null(ImageMask.FromOverlay(new DicomDataset(), 4, 4));
    }

    [Fact]
    public void Bits_run_row_major_from_the_least_significant_bit_of_the_first_byte()
    {
        // 4 x 4 plane: bit 0 (row 0, col 0), bit 5 (row 1, col 1), bit 15 (row 3, col 3).
        var mask = ImageMask.FromOverlay(Overlay(4, 4, [0b0010_0001, 0b1000_0000]), 4, 4)!;

        Assert.Equal([0, 5, 15], Enumerable.Range(0, 16).Where(i => mask[i]));
    }

    [Fact]
    public void The_origin_places_the_plane_and_bits_outside_the_image_are_dropped()
    {
        // A 2 x 2 plane, all set, at row 4, column 3 (1-based) of a 4 x 4 image: only its top row lands inside.
        var mask = ImageMask.FromOverlay(Overlay(2, 2, [0b0000_1111], originRow: 4, originColumn: 3), 4, 4)!;

        Assert.Equal([14, 15], Enumerable.Range(0, 16).Where(i => mask[i]));
    }

    [Fact]
    public void An_overlay_that_cannot_be_read_is_an_error_naming_what_is_wrong()
    {
        var noRows = Overlay(4, 4, [0, 0]);
        noRows.Remove(DicomTag.OverlayRows);
        var shortData = Overlay(8, 8, [0, 0]);

        Assert.Contains("Overlay Rows (6000,0010)", Assert.Throws<ImagingException>(() => ImageMask.FromOverlay(noRows, 4, 4)).Message, StringComparison.Ordinal);
        Assert.Contains("8x8 bits need 8", Assert.Throws<ImagingException>(() => ImageMask.FromOverlay(shortData, 8, 8)).Message, StringComparison.Ordinal);
    }
}
