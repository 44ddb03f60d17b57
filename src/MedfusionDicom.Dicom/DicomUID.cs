using System.Numerics;
using System.Security.Cryptography;
using System.Text;

namespace MedfusionDicom.Dicom;

public enum DicomUidType
{
    Unknown,
    TransferSyntax,
    SOPClass,
    MetaSOPClass,
    WellKnownSOPInstance,
    FrameOfReference,
    ApplicationContextName,
    CodingScheme,
    ServiceClass,
    LDAP,
    ApplicationHostingModel,
    MappingResource,
    ContextGroupName,
    Other,
}

/// <summary>A unique identifier, with the registry of the standard's UIDs and generators for new ones.</summary>
public sealed partial class DicomUID : IEquatable<DicomUID>
{
    /// <summary>Our implementation's root for non-UUID UIDs (Implementation Class UID); a 2.25 UUID-derived OID.</summary>
    public const string ImplementationClassUidValue = "2.25.160116239187839488733815375651286870461";
    public const string ImplementationVersionNameValue = "MEDFUSION_010";

    public DicomUID(string uid, string name, DicomUidType type, bool isRetired = false, string keyword = "")
    {
        UID = uid;
        Name = name;
        Type = type;
        IsRetired = isRetired;
        Keyword = keyword;
    }

    public string UID { get; }
    public string Name { get; }
    public DicomUidType Type { get; }
    public bool IsRetired { get; }
    public string Keyword { get; }

    /// <summary>True for the storage SOP classes (the ones a C-STORE SCP accepts). A DICOMDIR (Media Storage Directory Storage) describes a file-set and is never stored as an instance.</summary>
    public bool IsImageStorage => Type == DicomUidType.SOPClass && Name.Contains("Storage", StringComparison.Ordinal)
        && !Name.Contains("Commitment", StringComparison.Ordinal) && !Name.Contains("Storage Management", StringComparison.Ordinal)
        && UID != MediaStorageDirectoryStorageUid;

    private const string MediaStorageDirectoryStorageUid = "1.2.840.10008.1.3.10";

    public static DicomUID ImplementationClassUid => new(ImplementationClassUidValue, "MedfusionDicom Implementation Class", DicomUidType.Other);

    private static readonly Lazy<Dictionary<string, DicomUID>> Registry = new(() =>
    {
        var map = new Dictionary<string, DicomUID>(StringComparer.Ordinal);
        foreach (var line in EmbeddedRegistry.Split('\n'))
        {
            var c = line.Split('\t');
            var type = Enum.TryParse<DicomUidType>(c[2], out var t) ? t : DicomUidType.Other;
            map[c[0]] = new DicomUID(c[0], c[1], type, c[3] == "1", c[4]);
        }
        return map;
    });

    /// <summary>Every UID of the standard that this build knows.</summary>
    public static IEnumerable<DicomUID> All => Registry.Value.Values;

    /// <summary>The registered UID, or an unregistered one that carries just the value.</summary>
    public static DicomUID Lookup(string uid)
    {
        var key = uid.TrimEnd('\0', ' ');
        return Registry.Value.TryGetValue(key, out var known) ? known : new DicomUID(key, key, DicomUidType.Unknown);
    }

    /// <summary>A new UID under 2.25 from a random UUID (PS3.5 §B.2).</summary>
    public static DicomUID Generate() => FromUuid(Guid.NewGuid());

    /// <summary>The 2.25 UID of a UUID: its 128 bits, in RFC 4122 (big-endian) order, as one decimal integer.</summary>
    public static DicomUID FromUuid(Guid uuid)
    {
        Span<byte> bytes = stackalloc byte[16];
        // .NET stores the first three fields little-endian; RFC 4122 order is big-endian throughout.
        uuid.TryWriteBytes(bytes, bigEndian: true, out _);
        var value = new BigInteger(bytes, isUnsigned: true, isBigEndian: true);
        return new DicomUID("2.25." + value.ToString(System.Globalization.CultureInfo.InvariantCulture), "Generated", DicomUidType.Other);
    }

    /// <summary>
    /// A deterministic UID: the same inputs always give the same UID (a name-based, SHA-1 UUID, RFC 4122 version 5,
    /// under 2.25). The gateway derives its outputs' UIDs this way so that a retried job writes the same instances.
    /// </summary>
    public static DicomUID FromName(params string[] parts)
    {
        // Distinct inputs must give distinct UIDs: no parts would hash as one empty part, and a part holding the
        // separator as two parts, so neither is a name.
        if (parts.Length == 0) throw new DicomValueException("a name-based UID needs at least one name part");
        if (parts.Any(p => p.Contains('\u001f') || p.Contains('\u001e')))
            throw new DicomValueException("name parts of a UID must not contain U+001E or U+001F (they separate the parts)");
        var text = string.Join("\u001f", parts);
        var hash = SHA1.HashData(Encoding.UTF8.GetBytes("MedfusionDicom\u001e" + text));
        Span<byte> b = stackalloc byte[16];
        hash.AsSpan(0, 16).CopyTo(b);
        b[6] = (byte)((b[6] & 0x0F) | 0x50);
        b[8] = (byte)((b[8] & 0x3F) | 0x80);
        return FromUuid(new Guid(b, bigEndian: true));
    }

    public static bool IsValid(string uid)
    {
        if (uid.Length is 0 or > 64) return false;
        foreach (var comp in uid.Split('.'))
        {
            if (comp.Length == 0 || (comp.Length > 1 && comp[0] == '0')) return false;
            foreach (var ch in comp) if (ch is < '0' or > '9') return false;
        }
        return true;
    }

    public bool Equals(DicomUID? other) => other is not null && other.UID == UID;
    public override bool Equals(object? obj) => obj is DicomUID u && Equals(u);
    public override int GetHashCode() => UID.GetHashCode(StringComparison.Ordinal);
    public static bool operator ==(DicomUID? a, DicomUID? b) => a?.UID == b?.UID;
    public static bool operator !=(DicomUID? a, DicomUID? b) => !(a == b);
    public override string ToString() => Type == DicomUidType.Unknown ? UID : $"{UID} ({Name})";
}
