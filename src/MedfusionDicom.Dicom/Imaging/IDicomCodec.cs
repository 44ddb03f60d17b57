namespace MedfusionDicom.Dicom.Imaging;

/// <summary>A decoded frame and how its samples are now laid out, which a codec may change (e.g. YBR to RGB).</summary>
public sealed record DicomDecodedFrame(byte[] Data, string PhotometricInterpretation, int PlanarConfiguration);

/// <summary>Decodes frames of one or more compressed transfer syntaxes into native, little-endian samples.</summary>
public interface IDicomCodec
{
    IReadOnlyList<DicomTransferSyntax> TransferSyntaxes { get; }

    /// <summary>
    /// Decodes one frame (all its fragments joined). <paramref name="description"/> is the dataset's Image Pixel module;
    /// the result holds exactly one frame of Rows x Columns x SamplesPerPixel samples of BitsAllocated bits.
    /// Throws <see cref="DicomCodecException"/> when the frame cannot be decoded.
    /// </summary>
    DicomDecodedFrame Decode(ReadOnlyMemory<byte> frame, DicomPixelDescription description, DicomTransferSyntax syntax);
}

/// <summary>
/// Codecs by transfer syntax. Codecs live outside the core (MedfusionDicom.Dicom.Codecs) and are registered
/// explicitly by the host at start-up (GdcmCodecs.RegisterDefault()); nothing is registered implicitly.
/// </summary>
public sealed class DicomCodecRegistry
{
    private readonly Dictionary<string, IDicomCodec> _codecs = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>The registry that <see cref="DicomFile.Save(string, DicomTransferSyntax?)"/> and the transcoder use by default.</summary>
    public static DicomCodecRegistry Default { get; } = new();

    /// <summary>Registers the codec for each of its transfer syntaxes, replacing any codec registered before for them.</summary>
    public void Register(IDicomCodec codec)
    {
        ArgumentNullException.ThrowIfNull(codec);
        lock (_lock)
            foreach (var ts in codec.TransferSyntaxes) _codecs[ts.UID.UID] = codec;
    }

    public bool TryGet(DicomTransferSyntax syntax, out IDicomCodec codec)
    {
        lock (_lock) return _codecs.TryGetValue(syntax.UID.UID, out codec!);
    }

    public IDicomCodec Get(DicomTransferSyntax syntax) => TryGet(syntax, out var codec)
        ? codec
        : throw new DicomCodecException(NoCodecMessage(syntax));

    /// <summary>Says which syntax has no codec and how to get one, so that the message alone tells the user what to do.</summary>
    public static string NoCodecMessage(DicomTransferSyntax syntax) =>
        $"no codec is registered for {syntax.UID.Name} ({syntax.UID.UID}); GDCM decodes JPEG, JPEG-LS, JPEG 2000 and RLE: "
        + "install Debian's libgdcm-cil (scripts/bootstrap) and call GdcmCodecs.RegisterDefault() from MedfusionDicom.Dicom.Codecs at start-up";

    public IReadOnlyList<DicomTransferSyntax> TransferSyntaxes
    {
        get
        {
            lock (_lock) return _codecs.Keys.Select(DicomTransferSyntax.Parse).ToArray();
        }
    }
}
