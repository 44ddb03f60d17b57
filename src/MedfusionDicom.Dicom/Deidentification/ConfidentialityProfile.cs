using System.Globalization;

namespace MedfusionDicom.Dicom.Deidentification;

/// <summary>
/// One row of PS3.15 Table E.1-1: an attribute, its action under the Basic Application Level Confidentiality Profile,
/// and the action each option puts in its place (empty where the option says nothing of it).
/// </summary>
public sealed record ConfidentialityProfileRow(
    string Tag, string Name, string Basic, string SafePrivate, string Uids, string DeviceIdentity, string InstitutionIdentity,
    string PatientCharacteristics, string FullDates, string ModifiedDates, string CleanDescriptors, string CleanStructuredContent, string CleanGraphics);

/// <summary>
/// PS3.15 Table E.1-1 as data: ConfidentialityProfile.tsv, generated from the standard's DocBook source by
/// scripts/generate-confidentiality-profile.py, which names the edition. Tags with x digits (50xx,xxxx), repeating
/// groups, match any hex digit there.
/// </summary>
public sealed class ConfidentialityProfile
{
    private readonly Dictionary<uint, ConfidentialityProfileRow> _exact = [];
    private readonly List<(uint Mask, uint Value, ConfidentialityProfileRow Row)> _patterns = [];

    private ConfidentialityProfile(string edition) => Edition = edition;

    /// <summary>The table of the edition this build carries.</summary>
    public static ConfidentialityProfile Standard { get; } = Load();

    /// <summary>The standard's edition the table was generated from, such as 2020c.</summary>
    public string Edition { get; }

    public int Count => _exact.Count + _patterns.Count;

    /// <summary>The row for a public attribute, or null when the table does not list it.</summary>
    public ConfidentialityProfileRow? Find(DicomTag tag)
    {
        if (_exact.TryGetValue(tag.Value, out var row)) return row;
        foreach (var (mask, value, pattern) in _patterns)
            if ((tag.Value & mask) == value) return pattern;
        return null;
    }

    private static ConfidentialityProfile Load()
    {
        using var stream = typeof(ConfidentialityProfile).Assembly.GetManifestResourceStream("MedfusionDicom.Dicom.Deidentification.ConfidentialityProfile.tsv")
            ?? throw new DicomException("ConfidentialityProfile.tsv is not embedded in this build");
        using var reader = new StreamReader(stream);
        var lines = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var edition = lines.Where(l => l.StartsWith("# edition:", StringComparison.Ordinal)).Select(l => l["# edition:".Length..].Trim()).FirstOrDefault()
            ?? throw new DicomException("ConfidentialityProfile.tsv does not name its edition");
        var profile = new ConfidentialityProfile(edition);
        foreach (var line in lines.Where(l => !l.StartsWith('#')).Skip(1))
        {
            var c = line.TrimEnd('\r').Split('\t');
            if (c.Length < 14) throw new DicomException($"ConfidentialityProfile.tsv: '{line}' has {c.Length} columns, not 14");
            var row = new ConfidentialityProfileRow(c[0], c[1], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13]);
            var tag = c[0].ToUpperInvariant();
            if (tag.Length != 8 || !tag.All(ch => char.IsAsciiHexDigit(ch) || ch == 'X')) continue; // rows that are not one tag pattern
            if (!tag.Contains('X', StringComparison.Ordinal))
            {
                profile._exact[uint.Parse(tag, NumberStyles.HexNumber, CultureInfo.InvariantCulture)] = row;
                continue;
            }

            uint mask = 0, value = 0;
            foreach (var ch in tag)
            {
                mask <<= 4;
                value <<= 4;
                if (ch == 'X') continue;
                mask |= 0xF;
                value |= uint.Parse(ch.ToString(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }

            profile._patterns.Add((mask, value, row));
        }

        return profile;
    }
}
