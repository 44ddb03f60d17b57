using MedfusionDicom.Dicom.Imaging;

namespace MedfusionDicom.Dicom.Codecs.Tests;

public sealed class GdcmCodecTests
{
    private static readonly DicomPixelDescription Gray16 = new(64, 64, 1, 16, 16, 15, 0, "MONOCHROME2", 0, 1);

    public static TheoryData<string> Syntaxes() => new(new GdcmCodec().TransferSyntaxes.Select(t => t.UID.UID));

    [Theory]
    [MemberData(nameof(Syntaxes))]
    public void GarbageRaisesACodecExceptionThatNamesTheSyntax(string uid)
    {
        var syntax = DicomTransferSyntax.Parse(uid);
        var garbage = Enumerable.Range(0, 512).Select(i => (byte)(i * 37 + 11)).ToArray();
        var ex = Assert.Throws<DicomCodecException>(() => new GdcmCodec().Decode(garbage, Gray16, syntax));
        Assert.Contains(syntax.ToString(), ex.Message, StringComparison.Ordinal);
        Assert.Throws<DicomCodecException>(() => new GdcmCodec().Decode(ReadOnlyMemory<byte>.Empty, Gray16, syntax));
    }

    [Fact]
    public void RegisterCoversEveryCompressedSyntaxWeKnow()
    {
        var registry = new DicomCodecRegistry();
        GdcmCodecs.Register(registry);
        string[] expected = ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70",
            "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.5"];
        Assert.Equal(expected.Order(), registry.TransferSyntaxes.Select(t => t.UID.UID).Order());
    }

    [Fact]
    public void SaveDecodesThroughTheDefaultRegistry()
    {
        GdcmCodecs.RegisterDefault();
        var rle = DicomFile.Open("/usr/lib/python3/dist-packages/pydicom/data/test_files/MR_small_RLE.dcm");
        var native = DicomFile.Open("/usr/lib/python3/dist-packages/pydicom/data/test_files/MR_small.dcm");
        using var ms = new MemoryStream();
        rle.Save(ms, DicomTransferSyntax.ImplicitVRLittleEndian);
        var reread = DicomFile.Open(ms.ToArray());
        Assert.Equal(DicomTransferSyntax.ImplicitVRLittleEndian, reread.TransferSyntax);
        Assert.Equal(native.Dataset.GetBuffer(DicomTag.PixelData).Memory.ToArray(), reread.Dataset.GetBuffer(DicomTag.PixelData).Memory.ToArray());
        var floats = DicomPixelData.Create(reread.Dataset).ToFloat32(0);
        Assert.Equal(64 * 64, floats.Data.Length);
    }
}
