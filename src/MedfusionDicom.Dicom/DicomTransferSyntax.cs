namespace MedfusionDicom.Dicom;

/// <summary>How a dataset is encoded: VR explicit or implicit, byte order, deflate, encapsulated pixel data.</summary>
public sealed class DicomTransferSyntax : IEquatable<DicomTransferSyntax>
{
    private DicomTransferSyntax(DicomUID uid, bool explicitVr, bool bigEndian, bool deflate, bool encapsulated, bool lossy)
    {
        UID = uid;
        IsExplicitVR = explicitVr;
        IsBigEndian = bigEndian;
        IsDeflate = deflate;
        IsEncapsulated = encapsulated;
        IsLossy = lossy;
    }

    public DicomUID UID { get; }
    public bool IsExplicitVR { get; }
    public bool IsBigEndian { get; }
    public bool IsDeflate { get; }
    public bool IsEncapsulated { get; }
    public bool IsLossy { get; }

    public static readonly DicomTransferSyntax ImplicitVRLittleEndian = Native("1.2.840.10008.1.2", false, false, false);
    public static readonly DicomTransferSyntax ExplicitVRLittleEndian = Native("1.2.840.10008.1.2.1", true, false, false);
    public static readonly DicomTransferSyntax DeflatedExplicitVRLittleEndian = Native("1.2.840.10008.1.2.1.99", true, false, true);
    public static readonly DicomTransferSyntax ExplicitVRBigEndian = Native("1.2.840.10008.1.2.2", true, true, false);
    public static readonly DicomTransferSyntax JPEGBaseline8Bit = Compressed("1.2.840.10008.1.2.4.50", lossy: true);
    public static readonly DicomTransferSyntax JPEGExtended12Bit = Compressed("1.2.840.10008.1.2.4.51", lossy: true);
    public static readonly DicomTransferSyntax JPEGLossless = Compressed("1.2.840.10008.1.2.4.57", lossy: false);
    public static readonly DicomTransferSyntax JPEGLosslessSV1 = Compressed("1.2.840.10008.1.2.4.70", lossy: false);
    public static readonly DicomTransferSyntax JPEGLSLossless = Compressed("1.2.840.10008.1.2.4.80", lossy: false);
    public static readonly DicomTransferSyntax JPEGLSNearLossless = Compressed("1.2.840.10008.1.2.4.81", lossy: true);
    public static readonly DicomTransferSyntax JPEG2000Lossless = Compressed("1.2.840.10008.1.2.4.90", lossy: false);
    public static readonly DicomTransferSyntax JPEG2000 = Compressed("1.2.840.10008.1.2.4.91", lossy: true);
    public static readonly DicomTransferSyntax RLELossless = Compressed("1.2.840.10008.1.2.5", lossy: false);

    /// <summary>The transfer syntaxes whose datasets we can read and write without a codec.</summary>
    public static IReadOnlyList<DicomTransferSyntax> Uncompressed { get; } =
        [ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian];

    private static readonly DicomTransferSyntax[] Known =
    [
        ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian,
        JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLossless, JPEGLosslessSV1, JPEGLSLossless, JPEGLSNearLossless,
        JPEG2000Lossless, JPEG2000, RLELossless,
    ];

    private static DicomTransferSyntax Native(string uid, bool explicitVr, bool bigEndian, bool deflate) =>
        new(DicomUID.Lookup(uid), explicitVr, bigEndian, deflate, false, false);

    private static DicomTransferSyntax Compressed(string uid, bool lossy) =>
        new(DicomUID.Lookup(uid), true, false, false, true, lossy);

    /// <summary>
    /// The transfer syntax of a UID. Unlisted transfer syntaxes of the registry are taken as encapsulated
    /// explicit VR little endian (PS3.5 §10: every compressed syntax is), so their datasets still read.
    /// </summary>
    public static DicomTransferSyntax Parse(string uid)
    {
        var key = uid.TrimEnd('\0', ' ');
        foreach (var ts in Known) if (ts.UID.UID == key) return ts;
        var reg = DicomUID.Lookup(key);
        if (reg.Type != DicomUidType.TransferSyntax)
            throw new DicomException($"'{key}' is not a known transfer syntax UID");
        var lossy = reg.Name.Contains("Lossy", StringComparison.OrdinalIgnoreCase) || reg.Name.Contains("Baseline", StringComparison.Ordinal)
            || reg.Name.Contains("Extended", StringComparison.Ordinal) || reg.Name.Contains("MPEG", StringComparison.Ordinal);
        return new DicomTransferSyntax(reg, true, false, false, true, lossy);
    }

    public bool Equals(DicomTransferSyntax? other) => other is not null && other.UID.UID == UID.UID;
    public override bool Equals(object? obj) => obj is DicomTransferSyntax t && Equals(t);
    public override int GetHashCode() => UID.GetHashCode();
    public static bool operator ==(DicomTransferSyntax? a, DicomTransferSyntax? b) => a?.UID.UID == b?.UID.UID;
    public static bool operator !=(DicomTransferSyntax? a, DicomTransferSyntax? b) => !(a == b);
    public override string ToString() => UID.Name;
}
