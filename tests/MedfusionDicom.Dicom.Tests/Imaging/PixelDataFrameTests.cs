using System.Runtime.InteropServices;
using MedfusionDicom.Dicom.Imaging;
using static MedfusionDicom.Dicom.Tests.Imaging.PixelTestData;

namespace MedfusionDicom.Dicom.Tests.Imaging;

public sealed class PixelDataFrameTests
{
    private static readonly byte[] Empty = [];

    [Fact]
    public void NativeMultiFrameFramesAreSlicesOfThePixelData()
    {
        var pixels = U16(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
        var ds = Dataset(Gray(2, 2, frames: 3), new DicomElement(DicomTag.PixelData, DicomVR.OW, pixels));
        var data = DicomPixelData.Create(ds);
        Assert.Equal((2, 2, 3, 16), (data.Rows, data.Columns, data.NumberOfFrames, data.BitsAllocated));
        var frame = data.GetFrame(1);
        Assert.Equal(U16(5, 6, 7, 8), frame.ToArray());
        Assert.True(MemoryMarshal.TryGetArray(frame, out var segment));
        Assert.Same(pixels, segment.Array);
        Assert.Equal(8, segment.Offset);
        Assert.Throws<DicomCodecException>(() => data.GetFrame(3));
        Assert.Throws<DicomCodecException>(() => data.GetFrame(-1));
    }

    [Fact]
    public void NativePixelDataShorterThanItsFramesIsAnError()
    {
        var ds = Dataset(Gray(2, 2, frames: 2), new DicomElement(DicomTag.PixelData, DicomVR.OW, U16(1, 2, 3, 4, 5)));
        var data = DicomPixelData.Create(ds);
        Assert.Equal(U16(1, 2, 3, 4), data.GetFrame(0).ToArray());
        var ex = Assert.Throws<DicomCodecException>(() => data.GetFrame(1));
        Assert.Contains("frame 1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BasicOffsetTableGroupsFragmentsIntoFrames()
    {
        // Frame 0 = fragments 0 and 1 (4 + 2 bytes), frame 1 = fragment 2; offsets include each 8-byte item header.
        var table = new byte[8];
        BitConverter.TryWriteBytes(table.AsSpan(4), 8u + 4 + 8 + 2);
        var ds = Dataset(Gray(2, 2, frames: 2), Fragments(table, [1, 2, 3, 4], [5, 6], [7, 8]), DicomTransferSyntax.RLELossless);
        var data = DicomPixelData.Create(ds);
        Assert.True(data.IsEncapsulated);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, data.GetFrame(0).ToArray());
        Assert.Equal(new byte[] { 7, 8 }, data.GetFrame(1).ToArray());
    }

    [Fact]
    public void WithoutOffsetTableOneFragmentPerFrameWhenCountsMatch()
    {
        var ds = Dataset(Gray(2, 2, frames: 2), Fragments(Empty, [1, 2], [3, 4]), DicomTransferSyntax.RLELossless);
        var data = DicomPixelData.Create(ds);
        Assert.Equal(new byte[] { 3, 4 }, data.GetFrame(1).ToArray());
    }

    [Fact]
    public void WithoutOffsetTableJpegStartMarkersSplitFrames()
    {
        byte[] soiA = [0xFF, 0xD8, 1], tail = [2, 0xFF, 0xD9], soiB = [0xFF, 0xD8, 3];
        var ds = Dataset(Gray(2, 2, frames: 2), Fragments(Empty, soiA, tail, soiB, tail), DicomTransferSyntax.JPEGLossless);
        var data = DicomPixelData.Create(ds);
        Assert.Equal(soiA.Concat(tail).ToArray(), data.GetFrame(0).ToArray());
        Assert.Equal(soiB.Concat(tail).ToArray(), data.GetFrame(1).ToArray());
    }

    [Fact]
    public void SingleFrameTakesAllFragments()
    {
        var ds = Dataset(Gray(2, 2), Fragments(Empty, [1], [2], [3]), DicomTransferSyntax.JPEG2000);
        Assert.Equal(new byte[] { 1, 2, 3 }, DicomPixelData.Create(ds).GetFrame(0).ToArray());
    }

    [Fact]
    public void UnattributableFragmentsAndBadOffsetTablesAreErrors()
    {
        var noMarkers = Dataset(Gray(2, 2, frames: 2), Fragments(Empty, [1], [2], [3]), DicomTransferSyntax.JPEGLossless);
        Assert.Throws<DicomCodecException>(() => DicomPixelData.Create(noMarkers).GetFrame(0));
        var table = new byte[8];
        BitConverter.TryWriteBytes(table.AsSpan(4), 3u);
        var badTable = Dataset(Gray(2, 2, frames: 2), Fragments(table, [1, 2], [3, 4]), DicomTransferSyntax.RLELossless);
        Assert.Throws<DicomCodecException>(() => DicomPixelData.Create(badTable).GetFrame(0));
        var ds = Dataset(Gray(2, 2), new DicomElement(DicomTag.PixelData, DicomVR.OW, U16(1, 2, 3, 4)));
        ds.Remove(DicomTag.Rows);
        Assert.Throws<DicomCodecException>(() => DicomPixelData.Create(ds));
    }
}
