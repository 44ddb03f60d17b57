using MedfusionDicom.Dicom.Imaging;

namespace MedfusionDicom.Dicom.Codecs;

/// <summary>
/// Decodes JPEG (baseline, extended, lossless, SV1), JPEG-LS (lossless, near-lossless), JPEG 2000 (lossless, lossy) and
/// RLE frames with GDCM: each frame becomes a one-frame in-memory gdcm.Image that gdcm.ImageChangeTransferSyntax
/// decompresses to Explicit VR Little Endian, the same path `gdcmconv --raw` takes, so results match GDCM's.
/// </summary>
public sealed class GdcmCodec : IDicomCodec
{
    public GdcmCodec() => GdcmNative.EnsureResolver();

    public IReadOnlyList<DicomTransferSyntax> TransferSyntaxes { get; } =
    [
        DicomTransferSyntax.JPEGBaseline8Bit, DicomTransferSyntax.JPEGExtended12Bit, DicomTransferSyntax.JPEGLossless,
        DicomTransferSyntax.JPEGLosslessSV1, DicomTransferSyntax.JPEGLSLossless, DicomTransferSyntax.JPEGLSNearLossless,
        DicomTransferSyntax.JPEG2000Lossless, DicomTransferSyntax.JPEG2000, DicomTransferSyntax.RLELossless,
    ];

    public DicomDecodedFrame Decode(ReadOnlyMemory<byte> frame, DicomPixelDescription description, DicomTransferSyntax syntax)
    {
        description.Validate();
        if (frame.Length == 0) throw new DicomCodecException($"{syntax}: the frame is empty");
        try
        {
            return DecodeWithGdcm(frame, description, syntax);
        }
        catch (DicomCodecException)
        {
            throw;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException or BadImageFormatException)
        {
            throw new DicomCodecException($"GDCM's native library could not be loaded ({ex.Message}); install Debian's libgdcm-cil (scripts/bootstrap)", ex);
        }
        catch (Exception ex) when (ex is ApplicationException or SystemException)
        {
            throw new DicomCodecException($"{syntax}: GDCM failed to decode the frame: {ex.Message}", ex);
        }
    }

    private static DicomDecodedFrame DecodeWithGdcm(ReadOnlyMemory<byte> frame, DicomPixelDescription d, DicomTransferSyntax syntax)
    {
        var tsType = gdcm.TransferSyntax.GetTSType(syntax.UID.UID);
        if (tsType == gdcm.TransferSyntax.TSType.TS_END)
            throw new DicomCodecException($"GDCM does not know the transfer syntax {syntax.UID.UID}");
        var bytes = frame.ToArray();
        using var change = new gdcm.ImageChangeTransferSyntax();
        // SetInput takes a gdcm::SmartPointer to the image, and the filter's destructor deletes it when the count drops
        // to zero. So the filter owns the image: disposing (or finalizing) it from C# as well would free it twice.
        var image = new gdcm.Image();
        change.SetInput(image);
        GC.SuppressFinalize(image);
        image.SetNumberOfDimensions(2);
        image.SetDimension(0, (uint)d.Columns);
        image.SetDimension(1, (uint)d.Rows);
        var pixelRepresentation = d.PixelRepresentation;
        if (syntax == DicomTransferSyntax.JPEG2000Lossless || syntax == DicomTransferSyntax.JPEG2000)
            pixelRepresentation = Jpeg2000Signedness(bytes) ?? pixelRepresentation;
        using var format = new gdcm.PixelFormat((ushort)d.SamplesPerPixel, (ushort)d.BitsAllocated, (ushort)d.BitsStored, (ushort)d.HighBit, (ushort)pixelRepresentation);
        image.SetPixelFormat(format);
        var piType = gdcm.PhotometricInterpretation.GetPIType(d.PhotometricInterpretation);
        if (piType == gdcm.PhotometricInterpretation.PIType.UNKNOWN || piType == gdcm.PhotometricInterpretation.PIType.PI_END)
            throw new DicomCodecException($"{syntax}: GDCM does not know the Photometric Interpretation '{d.PhotometricInterpretation}'");
        using var photometric = new gdcm.PhotometricInterpretation(piType);
        image.SetPhotometricInterpretation(photometric);
        image.SetPlanarConfiguration((uint)d.PlanarConfiguration);
        using var sourceSyntax = new gdcm.TransferSyntax(tsType);
        image.SetTransferSyntax(sourceSyntax);

        using var pixelData = new gdcm.DataElement(new gdcm.Tag(0x7FE0, 0x0010));
        var fragments = gdcm.SequenceOfFragments.New();
        using var fragment = new gdcm.Fragment();
        fragment.SetByteValue(bytes, new gdcm.VL((uint)bytes.Length));
        fragments.AddFragment(fragment);
        pixelData.SetValue(fragments.__ref__());
        image.SetDataElement(pixelData);

        using var target = new gdcm.TransferSyntax(gdcm.TransferSyntax.TSType.ExplicitVRLittleEndian);
        change.SetTransferSyntax(target);
        if (!change.Change())
            throw new DicomCodecException($"{syntax}: GDCM could not decode the frame ({bytes.Length} bytes, {d.Rows}x{d.Columns}, {d.SamplesPerPixel} sample(s), {d.BitsStored}/{d.BitsAllocated} bits, {d.PhotometricInterpretation}); the data is corrupt or does not match the image description");
        var output = change.GetOutput();
        var length = output.GetBufferLength();
        var expected = (long)d.Rows * d.Columns * d.SamplesPerPixel * d.BytesPerSample;
        if (length < expected)
            throw new DicomCodecException($"{syntax}: GDCM decoded {length} bytes; {expected} expected for {d.Rows}x{d.Columns}x{d.SamplesPerPixel} at {d.BitsAllocated} bits");
        var data = new byte[length];
        if (!output.GetBuffer(data)) throw new DicomCodecException($"{syntax}: GDCM decoded the frame but could not hand over its {length} bytes");
        var outPhotometric = output.GetPhotometricInterpretation().GetString()?.Trim(' ', '\0');
        return new DicomDecodedFrame(data, string.IsNullOrEmpty(outPhotometric) ? d.PhotometricInterpretation : outPhotometric, (int)output.GetPlanarConfiguration());
    }

    /// <summary>
    /// The signedness the JPEG 2000 codestream's SIZ segment declares for its first component (1 = signed), or null if
    /// there is no SIZ. GDCM's own reader trusts the codestream over Pixel Representation when they disagree (e.g.
    /// unsigned J2K data with Pixel Representation 1); we do the same so that results match GDCM's byte for byte.
    /// </summary>
    internal static int? Jpeg2000Signedness(ReadOnlySpan<byte> codestream)
    {
        ReadOnlySpan<byte> socSiz = [0xFF, 0x4F, 0xFF, 0x51];
        var window = codestream[..Math.Min(codestream.Length, 4096)];
        var at = window.IndexOf(socSiz);
        // SOC(2) SIZ(2) Lsiz(2) Rsiz(2) Xsiz..YTOsiz(8 x 4) Csiz(2), then Ssiz of component 0.
        const int ssizOffset = 2 + 2 + 2 + 2 + 32 + 2;
        if (at < 0 || at + ssizOffset >= codestream.Length) return null;
        return (codestream[at + ssizOffset] & 0x80) != 0 ? 1 : 0;
    }
}

/// <summary>
/// The one entry point: registers GDCM's decoders. Hosts call <see cref="RegisterDefault"/> once at start-up (the
/// medfusion CLI does in Program.cs); there is no module initializer, and library code never registers on its own.
/// </summary>
public static class GdcmCodecs
{
    public static void Register(DicomCodecRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.Register(new GdcmCodec());
    }

    /// <summary>
    /// Registers GDCM in <see cref="DicomCodecRegistry.Default"/>, which DicomFile.Save, the transcoder and the SCU use.
    /// Loads nothing native: without libgdcm-cil installed, start-up still works and decoding fails saying what to install.
    /// </summary>
    public static void RegisterDefault() => Register(DicomCodecRegistry.Default);
}
