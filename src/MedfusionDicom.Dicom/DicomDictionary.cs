using System.Globalization;

namespace MedfusionDicom.Dicom;

/// <summary>One data dictionary entry: a tag (or a repeating-group pattern), its keyword, VR and VM.</summary>
public sealed record DicomDictionaryEntry(DicomTag Tag, uint Mask, string Keyword, DicomVR ValueRepresentation, string ValueMultiplicity, bool IsRetired)
{
    public bool Matches(DicomTag tag) => (tag.Value & Mask) == Tag.Value;
}

/// <summary>The standard data dictionary (DCMTK's dicom.dic, generated into code) with lookup by tag and keyword.</summary>
public sealed partial class DicomDictionary
{
    public static DicomDictionary Default { get; } = new();

    private readonly Dictionary<uint, DicomDictionaryEntry> _exact = new();
    private readonly List<DicomDictionaryEntry> _masked = new();
    private readonly Dictionary<string, DicomDictionaryEntry> _byKeyword = new(StringComparer.Ordinal);

    private DicomDictionary()
    {
        foreach (var line in EmbeddedEntries.Split('\n'))
        {
            var cols = line.Split('\t');
            var tag = new DicomTag(uint.Parse(cols[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            var mask = uint.Parse(cols[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var vr = DicomVR.Parse(cols[3]);
            var entry = new DicomDictionaryEntry(tag, mask, cols[2], vr, cols[4], cols[5] == "1");
            if (mask == 0xFFFFFFFF) _exact[tag.Value] = entry;
            else _masked.Add(entry);
            _byKeyword.TryAdd(entry.Keyword, entry);
        }
        foreach (var entry in Supplement)
        {
            _exact.TryAdd(entry.Tag.Value, entry);
            _byKeyword.TryAdd(entry.Keyword, entry);
        }
    }

    /// <summary>
    /// Standard attributes newer than the DCMTK dictionary we generate from; kept here so that they get their VR
    /// when read in implicit VR and have keywords. A later DCMTK dictionary that has them wins (TryAdd). A property,
    /// not a field: the constructor runs from <see cref="Default"/>'s initializer, before later fields are set.
    /// </summary>
    private static DicomDictionaryEntry[] Supplement =>
    [
        new(new DicomTag(0x0008, 0x001C), 0xFFFFFFFF, "SyntheticData", DicomVR.CS, "1", false),
    ];

    /// <summary>Every entry, the repeating-group patterns included.</summary>
    public IEnumerable<DicomDictionaryEntry> Entries => _exact.Values.Concat(_masked);

    public DicomDictionaryEntry this[DicomTag tag] => TryGet(tag, out var e) ? e : Unknown(tag);

    public bool TryGet(DicomTag tag, out DicomDictionaryEntry entry)
    {
        if (_exact.TryGetValue(tag.Value, out entry!)) return true;
        if (tag.IsPrivate)
        {
            if (tag.IsPrivateCreator)
            {
                entry = new DicomDictionaryEntry(tag, 0xFFFFFFFF, "PrivateCreator", DicomVR.LO, "1", false);
                return true;
            }
            return false;
        }
        if (tag.IsGroupLength)
        {
            entry = new DicomDictionaryEntry(tag, 0xFFFFFFFF, "GroupLength", DicomVR.UL, "1", true);
            return true;
        }
        foreach (var m in _masked)
        {
            if (m.Matches(tag))
            {
                entry = m;
                return true;
            }
        }
        return false;
    }

    public bool TryGetByKeyword(string keyword, out DicomDictionaryEntry entry) => _byKeyword.TryGetValue(keyword, out entry!);

    private static DicomDictionaryEntry Unknown(DicomTag tag) =>
        new(tag, 0xFFFFFFFF, tag.IsPrivate ? "Private" : "Unknown", DicomVR.UN, "1", false);
}
