using System.Buffers.Binary;
using MedfusionDicom.Dicom.Imaging;
using MedfusionDicom.Dicom.IO;

namespace MedfusionDicom.Dicom.Tests.Imaging;

internal static class PixelTestData
{
    public static DicomPixelDescription Gray(int rows, int columns, int bitsAllocated = 16, int bitsStored = 16, int highBit = -1, bool signed = false, string photometric = "MONOCHROME2", int frames = 1) =>
        new(rows, columns, 1, bitsAllocated, bitsStored, highBit < 0 ? bitsStored - 1 : highBit, signed ? 1 : 0, photometric, 0, frames);

    public static byte[] U16(params int[] values)
    {
        var bytes = new byte[values.Length * 2];
        for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), (ushort)values[i]);
        return bytes;
    }

    /// <summary>A dataset with the Image Pixel module of <paramref name="d"/> and the given pixel item.</summary>
    public static DicomDataset Dataset(DicomPixelDescription d, DicomItem pixels, DicomTransferSyntax? syntax = null)
    {
        var ds = new DicomDataset { InternalTransferSyntax = syntax ?? DicomTransferSyntax.ExplicitVRLittleEndian };
        ds.AddOrUpdate(DicomTag.SOPClassUID, "1.2.840.10008.5.1.4.1.1.7");
        ds.AddOrUpdate(DicomTag.SOPInstanceUID, "1.2.3.4.5");
        ds.AddOrUpdate(DicomTag.Rows, (ushort)d.Rows);
        ds.AddOrUpdate(DicomTag.Columns, (ushort)d.Columns);
        ds.AddOrUpdate(DicomTag.SamplesPerPixel, (ushort)d.SamplesPerPixel);
        ds.AddOrUpdate(DicomTag.BitsAllocated, (ushort)d.BitsAllocated);
        ds.AddOrUpdate(DicomTag.BitsStored, (ushort)d.BitsStored);
        ds.AddOrUpdate(DicomTag.HighBit, (ushort)d.HighBit);
        ds.AddOrUpdate(DicomTag.PixelRepresentation, (ushort)d.PixelRepresentation);
        ds.AddOrUpdate(DicomTag.PhotometricInterpretation, d.PhotometricInterpretation);
        if (d.SamplesPerPixel > 1) ds.AddOrUpdate(DicomTag.PlanarConfiguration, (ushort)d.PlanarConfiguration);
        if (d.NumberOfFrames > 1) ds.AddOrUpdate(DicomTag.NumberOfFrames, d.NumberOfFrames.ToString(System.Globalization.CultureInfo.InvariantCulture));
        ds.AddOrUpdate(pixels);
        return ds;
    }

    public static DicomFragmentSequence Fragments(byte[] offsetTable, params byte[][] fragments) =>
        new(DicomTag.PixelData, DicomVR.OB, new MemoryByteBuffer(offsetTable), fragments.Select(f => (IByteBuffer)new MemoryByteBuffer(f)));
}
