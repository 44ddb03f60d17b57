using System.Globalization;

namespace MedfusionDicom.Dicom;

/// <summary>A data element tag (group, element), ordered as DICOM orders them.</summary>
public readonly partial struct DicomTag : IEquatable<DicomTag>, IComparable<DicomTag>
{
    public DicomTag(ushort group, ushort element) => Value = ((uint)group << 16) | element;
    public DicomTag(uint value) => Value = value;

    public uint Value { get; }
    public ushort Group => (ushort)(Value >> 16);
    public ushort Element => (ushort)Value;

    public bool IsPrivate => (Group & 1) == 1;
    /// <summary>(gggg,0010-00FF) in an odd group: reserves a block of private elements.</summary>
    public bool IsPrivateCreator => IsPrivate && Element is >= 0x10 and <= 0xFF;
    public bool IsGroupLength => Element == 0;

    public DicomDictionaryEntry DictionaryEntry => DicomDictionary.Default[this];

    /// <summary>Parses "(0010,0010)", "0010,0010", "00100010" or a dictionary keyword.</summary>
    public static DicomTag Parse(string text)
    {
        if (TryParse(text, out var tag)) return tag;
        throw new DicomException($"'{text}' is neither a tag like (0010,0010) nor a DICOM keyword");
    }

    public static bool TryParse(string text, out DicomTag tag)
    {
        var s = text.Trim().Trim('(', ')').Replace(",", "", StringComparison.Ordinal);
        if (s.Length == 8 && uint.TryParse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var v))
        {
            tag = new DicomTag(v);
            return true;
        }
        if (DicomDictionary.Default.TryGetByKeyword(text.Trim(), out var entry))
        {
            tag = entry.Tag;
            return true;
        }
        tag = default;
        return false;
    }

    public bool Equals(DicomTag other) => Value == other.Value;
    public override bool Equals(object? obj) => obj is DicomTag t && Equals(t);
    public override int GetHashCode() => (int)Value;
    public int CompareTo(DicomTag other) => Value.CompareTo(other.Value);
    public static bool operator ==(DicomTag a, DicomTag b) => a.Value == b.Value;
    public static bool operator !=(DicomTag a, DicomTag b) => a.Value != b.Value;
    public static bool operator <(DicomTag a, DicomTag b) => a.Value < b.Value;
    public static bool operator >(DicomTag a, DicomTag b) => a.Value > b.Value;
    public static bool operator <=(DicomTag a, DicomTag b) => a.Value <= b.Value;
    public static bool operator >=(DicomTag a, DicomTag b) => a.Value >= b.Value;

    public override string ToString() => $"({Group:X4},{Element:X4})";
}

/// <summary>Keywords of the attributes in <see cref="DicomDictionary"/>'s supplement (newer than DCMTK's dictionary).</summary>
public readonly partial struct DicomTag
{
    /// <summary>(0008,001C) Synthetic Data, CS: YES when content was made artificially (PS3.3 C.12.1).</summary>
    public static DicomTag SyntheticData => new(0x0008, 0x001C);
}
