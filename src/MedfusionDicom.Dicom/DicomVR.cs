namespace MedfusionDicom.Dicom;

/// <summary>A value representation (PS3.5 §6.2): how an element's value is encoded.</summary>
public sealed class DicomVR
{
    private DicomVR(string code, DicomVRKind kind, bool longHeader, byte padding, int unitSize, bool multiValue, bool charsetDependent, int maxLength)
    {
        Code = code;
        Kind = kind;
        HasLongExplicitHeader = longHeader;
        PaddingByte = padding;
        UnitSize = unitSize;
        IsMultiValueString = multiValue;
        IsCharacterSetDependent = charsetDependent;
        MaximumLength = maxLength;
        Code16 = code.Length == 2 ? (ushort)(code[0] << 8 | code[1]) : (ushort)0;
    }

    public string Code { get; }
    public DicomVRKind Kind { get; }
    /// <summary>In explicit VR: 2 reserved bytes and a 32-bit length (OB, SQ, UN, ...), else a 16-bit length.</summary>
    public bool HasLongExplicitHeader { get; }
    public byte PaddingByte { get; }
    /// <summary>Size in bytes of one binary value, which big-endian encoding byte-swaps; 1 for strings and bytes.</summary>
    public int UnitSize { get; }
    /// <summary>Strings whose values are separated by backslash (all string VRs but LT, ST, UT, UR).</summary>
    public bool IsMultiValueString { get; }
    /// <summary>Decoded with the dataset's Specific Character Set (SH, LO, ST, LT, PN, UC, UT); the rest are ASCII.</summary>
    public bool IsCharacterSetDependent { get; }
    /// <summary>Maximum length of one value in bytes (strings) or 0 when unbounded.</summary>
    public int MaximumLength { get; }
    internal ushort Code16 { get; }

    public bool IsString => Kind == DicomVRKind.String;

    public static readonly DicomVR NONE = new("NONE", DicomVRKind.None, false, 0, 1, false, false, 0);
    public static readonly DicomVR AE = Str("AE", 16);
    public static readonly DicomVR AS = Str("AS", 4);
    public static readonly DicomVR AT = Bin("AT", 2, false);
    public static readonly DicomVR CS = Str("CS", 16);
    public static readonly DicomVR DA = Str("DA", 8);
    public static readonly DicomVR DS = Str("DS", 16);
    public static readonly DicomVR DT = Str("DT", 26);
    public static readonly DicomVR FD = Bin("FD", 8, false);
    public static readonly DicomVR FL = Bin("FL", 4, false);
    public static readonly DicomVR IS = Str("IS", 12);
    public static readonly DicomVR LO = Str("LO", 64, charset: true);
    public static readonly DicomVR LT = Str("LT", 10240, multi: false, charset: true);
    public static readonly DicomVR OB = new("OB", DicomVRKind.Binary, true, 0, 1, false, false, 0);
    public static readonly DicomVR OD = Bin("OD", 8, true);
    public static readonly DicomVR OF = Bin("OF", 4, true);
    public static readonly DicomVR OL = Bin("OL", 4, true);
    public static readonly DicomVR OV = Bin("OV", 8, true);
    public static readonly DicomVR OW = Bin("OW", 2, true);
    public static readonly DicomVR PN = Str("PN", 64 * 3 + 2, charset: true);
    public static readonly DicomVR SH = Str("SH", 16, charset: true);
    public static readonly DicomVR SL = Bin("SL", 4, false);
    public static readonly DicomVR SQ = new("SQ", DicomVRKind.Sequence, true, 0, 1, false, false, 0);
    public static readonly DicomVR SS = Bin("SS", 2, false);
    public static readonly DicomVR ST = Str("ST", 1024, multi: false, charset: true);
    public static readonly DicomVR SV = Bin("SV", 8, true);
    public static readonly DicomVR TM = Str("TM", 14);
    public static readonly DicomVR UC = Str("UC", 0, longHeader: true, charset: true);
    public static readonly DicomVR UI = new("UI", DicomVRKind.String, false, 0, 1, true, false, 64);
    public static readonly DicomVR UL = Bin("UL", 4, false);
    public static readonly DicomVR UN = new("UN", DicomVRKind.Binary, true, 0, 1, false, false, 0);
    public static readonly DicomVR UR = Str("UR", 0, longHeader: true, multi: false);
    public static readonly DicomVR US = Bin("US", 2, false);
    public static readonly DicomVR UT = Str("UT", 0, longHeader: true, multi: false, charset: true);
    public static readonly DicomVR UV = Bin("UV", 8, true);

    // SV and UV have long explicit headers, like the O* VRs.
    private static DicomVR Bin(string code, int unit, bool longHeader) =>
        new(code, DicomVRKind.Binary, longHeader, 0, unit, false, false, 0);

    private static DicomVR Str(string code, int max, bool longHeader = false, bool multi = true, bool charset = false) =>
        new(code, DicomVRKind.String, longHeader, (byte)' ', 1, multi, charset, max);

    public static IReadOnlyList<DicomVR> All { get; } =
    [
        AE, AS, AT, CS, DA, DS, DT, FD, FL, IS, LO, LT, OB, OD, OF, OL, OV, OW, PN, SH, SL, SQ, SS, ST, SV, TM, UC, UI, UL, UN, UR, US, UT, UV,
    ];

    private static readonly Dictionary<ushort, DicomVR> ByCode16 = All.ToDictionary(v => v.Code16);
    private static readonly Dictionary<string, DicomVR> ByCode = All.Append(NONE).ToDictionary(v => v.Code);

    public static bool TryParse(byte first, byte second, out DicomVR vr) =>
        ByCode16.TryGetValue((ushort)(first << 8 | second), out vr!);

    public static bool TryParse(string code, out DicomVR vr) => ByCode.TryGetValue(code, out vr!);

    public static DicomVR Parse(string code) =>
        TryParse(code, out var vr) ? vr : throw new DicomException($"'{code}' is not a DICOM value representation");

    public override string ToString() => Code;
}

public enum DicomVRKind
{
    None,
    String,
    Binary,
    Sequence,
}
