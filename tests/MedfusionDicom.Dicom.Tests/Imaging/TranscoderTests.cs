using MedfusionDicom.Dicom.Imaging;
using static MedfusionDicom.Dicom.Tests.Imaging.PixelTestData;

namespace MedfusionDicom.Dicom.Tests.Imaging;

public sealed class TranscoderTests
{
    /// <summary>A stand-in decoder: each frame "decodes" to its bytes repeated to the frame size, reported as RGB.</summary>
    private sealed class RepeatingCodec(DicomTransferSyntax syntax) : IDicomCodec
    {
        public IReadOnlyList<DicomTransferSyntax> TransferSyntaxes { get; } = [syntax];

        public DicomDecodedFrame Decode(ReadOnlyMemory<byte> frame, DicomPixelDescription description, DicomTransferSyntax ts)
        {
            var output = new byte[description.Rows * description.Columns * description.SamplesPerPixel];
            for (var i = 0; i < output.Length; i++) output[i] = frame.Span[i % frame.Length];
            return new DicomDecodedFrame(output, "RGB", 0);
        }
    }

    private static DicomFile ColorJpeg()
    {
        var d = new DicomPixelDescription(1, 2, 3, 8, 8, 7, 0, "YBR_FULL_422", 0, 2);
        var ds = Dataset(d, Fragments([], [0xFF, 0xD8, 1], [0xFF, 0xD8, 2]), DicomTransferSyntax.JPEGBaseline8Bit);
        ds.AddOrUpdate(DicomTag.PatientName, "Doe^Jane");
        return new DicomFile(ds);
    }

    [Fact]
    public void CompressedPixelsAreDecodedThroughTheRegistryAndTheHeaderFollows()
    {
        var registry = new DicomCodecRegistry();
        registry.Register(new RepeatingCodec(DicomTransferSyntax.JPEGBaseline8Bit));
        var result = DicomTranscoder.Transcode(ColorJpeg(), DicomTransferSyntax.ExplicitVRBigEndian, registry);
        var ds = result.Dataset;
        Assert.Equal(DicomTransferSyntax.ExplicitVRBigEndian, result.TransferSyntax);
        Assert.Equal(new byte[] { 0xFF, 0xD8, 1, 0xFF, 0xD8, 1, 0xFF, 0xD8, 2, 0xFF, 0xD8, 2 }, ds.GetBuffer(DicomTag.PixelData).Memory.ToArray());
        Assert.Equal(DicomVR.OB, ds.GetElement(DicomTag.PixelData).ValueRepresentation);
        Assert.Equal("RGB", ds.GetString(DicomTag.PhotometricInterpretation));
        Assert.Equal("01", ds.GetString(DicomTag.LossyImageCompression));
        Assert.Equal("ISO_10918_1", ds.GetString(DicomTag.LossyImageCompressionMethod));
        Assert.Equal("Doe^Jane", ds.GetString(DicomTag.PatientName));

        using var ms = new MemoryStream();
        result.Save(ms);
        var reread = DicomFile.Open(ms.ToArray());
        Assert.Equal(DicomTransferSyntax.ExplicitVRBigEndian, reread.TransferSyntax);
        Assert.Equal(ds.GetBuffer(DicomTag.PixelData).Memory.ToArray(), reread.Dataset.GetBuffer(DicomTag.PixelData).Memory.ToArray());
    }

    [Fact]
    public void WithoutACodecTheErrorNamesTheSyntaxAndHowToEnableGdcm()
    {
        var ex = Assert.Throws<DicomCodecException>(() => DicomTranscoder.Transcode(ColorJpeg(), DicomTransferSyntax.ExplicitVRLittleEndian, new DicomCodecRegistry()));
        Assert.Contains($"{DicomTransferSyntax.JPEGBaseline8Bit.UID.Name} (1.2.840.10008.1.2.4.50)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("libgdcm-cil", ex.Message, StringComparison.Ordinal);
        Assert.Contains("GdcmCodecs.RegisterDefault()", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WithoutACodecOrToACompressedSyntaxTheTranscoderRefuses()
    {
        var ex = Assert.Throws<DicomCodecException>(() => DicomTranscoder.Transcode(ColorJpeg(), DicomTransferSyntax.ExplicitVRLittleEndian, new DicomCodecRegistry()));
        Assert.Contains("no codec", ex.Message, StringComparison.Ordinal);
        Assert.Throws<DicomCodecException>(() => DicomTranscoder.Transcode(ColorJpeg(), DicomTransferSyntax.JPEG2000Lossless));
        // Saving must not mislabel JPEG fragments as JPEG 2000.
        Assert.Throws<DicomCodecException>(() => ColorJpeg().Save(new MemoryStream(), DicomTransferSyntax.JPEG2000Lossless));
    }

    [Theory]
    [InlineData("1.2.840.10008.1.2")]
    [InlineData("1.2.840.10008.1.2.1")]
    [InlineData("1.2.840.10008.1.2.2")]
    [InlineData("1.2.840.10008.1.2.1.99")]
    public void NativePixelsSurviveEveryUncompressedSyntax(string uid)
    {
        var pixels = U16(0x0102, 0x0304, 0xFFFE, 0x8000);
        // OB on 16-bit data is what some writers do; big endian needs OW to swap the samples.
        var ds = Dataset(Gray(2, 2), new DicomElement(DicomTag.PixelData, DicomVR.OB, pixels));
        var target = DicomTransferSyntax.Parse(uid);
        using var ms = new MemoryStream();
        new DicomFile(ds).Save(ms, target);
        var reread = DicomFile.Open(ms.ToArray());
        Assert.Equal(target, reread.TransferSyntax);
        Assert.Equal(pixels, reread.Dataset.GetBuffer(DicomTag.PixelData).Memory.ToArray());
        // Saving in the dataset's own syntax writes it as it is; any transcoding turns 16-bit OB into OW.
        if (target != ds.InternalTransferSyntax) Assert.Equal(DicomVR.OW, reread.Dataset.GetElement(DicomTag.PixelData).ValueRepresentation);
        Assert.Equal([0x0102, 0x0304, 0xFFFE, 0x8000], DicomPixelData.Create(reread.Dataset).ToFloat32(0).Data);
    }
}
