using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MedfusionDicom.Dicom.Derived;
using MedfusionDicom.Dicom.Text;

namespace MedfusionDicom.Dicom.Deidentification;

/// <summary>What a de-identification uses: its options, its key, and optional pseudonyms and safe private attributes.</summary>
public sealed record DeidentificationSettings
{
    /// <summary>The secret that every replacement is derived from: the same key maps the same UID, patient and dates alike.</summary>
    public required byte[] Key { get; init; }

    public IReadOnlySet<DeidentificationOption> Options { get; init; } = new HashSet<DeidentificationOption>();

    /// <summary>Pseudonymous Patient IDs by original Patient ID (a mapping CSV); a patient not listed gets one from the key.</summary>
    public IReadOnlyDictionary<string, string> PatientPseudonyms { get; init; } = new Dictionary<string, string>();

    /// <summary>Retain Safe Private: the private attributes known to be safe, by private creator and element byte (gggg,xxEE → EE).</summary>
    public IReadOnlySet<(string Creator, byte Element)> SafePrivate { get; init; } = new HashSet<(string, byte)>();

    /// <summary>Clean Pixel Data: what removes burned-in identity from the pixels; the option is refused without one.</summary>
    public IDicomPixelCleaner? PixelCleaner { get; init; }
}

/// <summary>Clean Pixel Data (PS3.15 E.3.1): removes identity burned into the pixels, such as by inpainting the regions that hold it.</summary>
public interface IDicomPixelCleaner
{
    /// <summary>Gives <paramref name="deidentified"/> the cleaned pixels of <paramref name="source"/>, whose overlays and attributes it may read.</summary>
    void Clean(DicomDataset source, DicomDataset deidentified);
}

/// <summary>
/// PS3.15 Annex E, the Basic Application Level Confidentiality Profile and its options, applied to every level of a
/// dataset. Table E.1-1 (<see cref="ConfidentialityProfile"/>) gives each listed attribute its action. Where the table
/// leaves a choice (X/Z, X/D, Z/D, X/Z/D), the one that keeps any IOD valid is taken: Z where an empty value is
/// enough, D where a value is needed. Beyond the table, attributes that can carry free text, names, dates or ages are
/// emptied, and UIDs that the standard does not register are replaced, so that what the table does not list cannot
/// leak identity either; coded vocabulary (code values, meanings, schemes) is kept, since codes must stay valid.
/// UIDs are replaced by a keyed, name-based mapping, so that references across files and sequences stay consistent.
/// </summary>
public sealed class DicomDeidentifier
{
    private const string Dummy = "ANONYMIZED";

    private static readonly HashSet<uint> CodedVocabulary =
    [
        DicomTag.CodeValue.Value, DicomTag.CodingSchemeDesignator.Value, DicomTag.CodingSchemeVersion.Value, DicomTag.CodeMeaning.Value,
        DicomTag.LongCodeValue.Value, DicomTag.URNCodeValue.Value, DicomTag.ContextIdentifier.Value, DicomTag.MappingResource.Value,
        DicomTag.ContextGroupVersion.Value, DicomTag.ContextGroupExtensionFlag.Value, DicomTag.ContextGroupLocalVersion.Value,
        DicomTag.ContextGroupExtensionCreatorUID.Value, DicomTag.MappingResourceName.Value, DicomTag.CodingSchemeName.Value,
    ];

    private static readonly HashSet<string> FreeText = ["PN", "LO", "SH", "LT", "ST", "UT", "UC"];

    private readonly DeidentificationSettings _settings;
    private readonly ConfidentialityProfile _profile;
    private readonly Dictionary<string, string> _uids = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _patients = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _counts = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public DicomDeidentifier(DeidentificationSettings settings, ConfidentialityProfile? profile = null)
    {
        if (settings.Key.Length < 16) throw new DicomException("a de-identification key must have at least 16 bytes (128 bits)");
        if (settings.Options.Contains(DeidentificationOption.RetainLongitudinalTemporalInformationFullDates)
            && settings.Options.Contains(DeidentificationOption.RetainLongitudinalTemporalInformationModifiedDates))
            throw new DicomException("retain-longitudinal-full-dates and retain-longitudinal-modified-dates exclude each other");
        if (settings.Options.Contains(DeidentificationOption.CleanPixelData) && settings.PixelCleaner is null)
            throw new DicomException("clean-pixel-data fills burned-in text with an inpainting model, which this de-identifier is not given");
        _settings = settings;
        _profile = profile ?? ConfidentialityProfile.Standard;
    }

    /// <summary>Every UID replaced so far, original to new: the mapping file that only the data owner keeps.</summary>
    public IReadOnlyDictionary<string, string> UidMap { get { lock (_lock) return new Dictionary<string, string>(_uids); } }

    /// <summary>Every patient so far: original Patient ID to pseudonym.</summary>
    public IReadOnlyDictionary<string, string> PatientMap { get { lock (_lock) return new Dictionary<string, string>(_patients); } }

    /// <summary>How many attributes got each action (D, Z, X, K, C, U), over every dataset so far.</summary>
    public IReadOnlyDictionary<string, int> ActionCounts { get { lock (_lock) return new Dictionary<string, int>(_counts); } }

    /// <summary>A de-identified copy of <paramref name="source"/> (the file meta information is not part of it).</summary>
    public DicomDataset Deidentify(DicomDataset source)
    {
        var patientId = source.GetStringOrDefault(DicomTag.PatientID).Trim();
        var patient = new PatientContext(Pseudonym(patientId), DateShiftDays(patientId));
        var target = new DicomDataset();
        Process(source, target, patient);

        if (_settings.Options.Contains(DeidentificationOption.CleanPixelData) && source.Contains(DicomTag.PixelData))
        {
            _settings.PixelCleaner!.Clean(source, target);
            target.AddOrUpdate(DicomTag.BurnedInAnnotation, "NO");
        }

        target.AddOrUpdate(DicomTag.PatientID, patient.Pseudonym);
        target.AddOrUpdate(DicomTag.PatientName, patient.Pseudonym);
        target.AddOrUpdate(DicomTag.PatientIdentityRemoved, "YES");
        var options = _settings.Options.Order().ToList();
        target.AddOrUpdate(DicomTag.DeidentificationMethod,
            [$"PS3.15 {_profile.Edition} Basic Application Confidentiality Profile", .. options.Select(o => DeidentificationOptionNames.CodeOf(o).Meaning)]);
        target.AddOrUpdate(DicomTag.DeidentificationMethodCodeSequence,
            [new DicomCodedEntry("113100", "DCM", "Basic Application Confidentiality Profile").ToItem(),
             .. options.Select(o => DeidentificationOptionNames.CodeOf(o)).Select(c => new DicomCodedEntry(c.Code, "DCM", c.Meaning).ToItem())]);
        target.AddOrUpdate(DicomTag.LongitudinalTemporalInformationModified,
            _settings.Options.Contains(DeidentificationOption.RetainLongitudinalTemporalInformationModifiedDates) ? "MODIFIED"
            : _settings.Options.Contains(DeidentificationOption.RetainLongitudinalTemporalInformationFullDates) ? "UNMODIFIED" : "REMOVED");
        return target;
    }

    /// <summary>The UID that replaces <paramref name="uid"/> under this key: a name-based UUID under 2.25, the same every time.</summary>
    public string NewUid(string uid)
    {
        var original = uid.TrimEnd('\0', ' ');
        lock (_lock)
        {
            if (_uids.TryGetValue(original, out var known)) return known;
            var hash = HMACSHA256.HashData(_settings.Key, Encoding.ASCII.GetBytes("uid\u001f" + original));
            Span<byte> b = stackalloc byte[16];
            hash.AsSpan(0, 16).CopyTo(b);
            b[6] = (byte)((b[6] & 0x0F) | 0x80); // RFC 9562 version 8: a custom, here keyed, UUID
            b[8] = (byte)((b[8] & 0x3F) | 0x80);
            return _uids[original] = DicomUID.FromUuid(new Guid(b, bigEndian: true)).UID;
        }
    }

    private sealed record PatientContext(string Pseudonym, int ShiftDays);

    private void Process(DicomDataset source, DicomDataset target, PatientContext patient)
    {
        // Text is copied as it is encoded, so the target keeps the source's character set; what is written new is ASCII.
        if (source[DicomTag.SpecificCharacterSet] is { } charset) target.AddOrUpdate(charset.Clone());
        var creators = source.Where(i => i.Tag.IsPrivateCreator && i is DicomElement).ToDictionary(i => i.Tag.Value, i => source.GetString(i.Tag).Trim());
        foreach (var item in source)
        {
            if (item.Tag.Group == 0x0002 || item.Tag == DicomTag.SpecificCharacterSet) continue;
            if (item.Tag.IsPrivate)
            {
                ProcessPrivate(item, creators, target, patient);
                continue;
            }

            var row = _profile.Find(item.Tag);
            Apply(row is null ? Unlisted(item) : Resolve(row, item), item, target, patient);
        }
    }

    private void ProcessPrivate(DicomItem item, Dictionary<uint, string> creators, DicomDataset target, PatientContext patient)
    {
        if (_settings.Options.Contains(DeidentificationOption.RetainSafePrivate) && !item.Tag.IsPrivateCreator)
        {
            var block = (uint)(item.Tag.Group << 16) | (uint)(item.Tag.Element >> 8);
            if (creators.TryGetValue(block, out var creator) && _settings.SafePrivate.Contains((creator, (byte)item.Tag.Element)))
            {
                var creatorTag = new DicomTag(item.Tag.Group, (ushort)(item.Tag.Element >> 8));
                if (!target.Contains(creatorTag)) target.AddOrUpdate(creatorTag, creator);
                Apply("K", item, target, patient);
                return;
            }
        }

        if (!item.Tag.IsPrivateCreator) Count("X");
    }

    /// <summary>The action for a listed attribute: an option's where the option says one, the Basic Profile's otherwise; a choice made as the class says.</summary>
    private string Resolve(ConfidentialityProfileRow row, DicomItem item)
    {
        var o = _settings.Options;
        var byOptions = new List<string>();
        void Consider(DeidentificationOption option, string code)
        {
            if (o.Contains(option) && code.Length > 0) byOptions.Add(code);
        }

        Consider(DeidentificationOption.RetainUids, row.Uids);
        Consider(DeidentificationOption.RetainDeviceIdentity, row.DeviceIdentity);
        Consider(DeidentificationOption.RetainInstitutionIdentity, row.InstitutionIdentity);
        Consider(DeidentificationOption.RetainPatientCharacteristics, row.PatientCharacteristics);
        Consider(DeidentificationOption.RetainLongitudinalTemporalInformationFullDates, row.FullDates);
        Consider(DeidentificationOption.RetainLongitudinalTemporalInformationModifiedDates, row.ModifiedDates);
        Consider(DeidentificationOption.CleanDescriptors, row.CleanDescriptors);
        Consider(DeidentificationOption.CleanStructuredContent, row.CleanStructuredContent);
        Consider(DeidentificationOption.CleanGraphics, row.CleanGraphics);
        // An option that retains outranks one that cleans: it was asked for that attribute.
        var code = byOptions.Contains("K") ? "K" : byOptions.FirstOrDefault() ?? row.Basic;
        return code switch
        {
            "X/Z" => "Z",
            "X/D" or "Z/D" or "X/Z/D" => "D",
            "X/Z/U*" or "X/Z/U" => item.ValueRepresentation == DicomVR.UI ? "U" : item is DicomSequence ? "K" : "Z",
            _ => code,
        };
    }

    /// <summary>The action for a public attribute that Table E.1-1 does not list.</summary>
    private string Unlisted(DicomItem item)
    {
        var vr = item.ValueRepresentation.Code;
        var o = _settings.Options;
        if (item is not DicomElement element) return "K";
        if (vr == "UI") return element.Length > 0 && !o.Contains(DeidentificationOption.RetainUids) ? "U" : "K"; // registered UIDs are kept by MapUids
        if (FreeText.Contains(vr)) return CodedVocabulary.Contains(item.Tag.Value) ? "K" : "Z";
        if (vr is "DA" or "DT" or "TM")
            return o.Contains(DeidentificationOption.RetainLongitudinalTemporalInformationFullDates) ? "K"
                : o.Contains(DeidentificationOption.RetainLongitudinalTemporalInformationModifiedDates) ? "C" : "Z";
        if (vr == "AS") return o.Contains(DeidentificationOption.RetainPatientCharacteristics) ? "K" : "Z";
        return "K";
    }

    private void Apply(string action, DicomItem item, DicomDataset target, PatientContext patient)
    {
        Count(action);
        switch (action)
        {
            case "X":
                return;
            case "Z":
                target.AddOrUpdate(item is DicomSequence ? new DicomSequence(item.Tag) : new DicomElement(item.Tag, item.ValueRepresentation, ReadOnlyMemory<byte>.Empty));
                return;
            case "D" when item is DicomSequence:
            case "K" when item is DicomSequence:
            case "C" when item is DicomSequence:
            case "U" when item is DicomSequence:
                var sequence = (DicomSequence)item;
                target.AddOrUpdate(new DicomSequence(item.Tag, sequence.Items.Select(child =>
                {
                    var copy = new DicomDataset();
                    Process(child, copy, patient);
                    return copy;
                }).ToArray()));
                return;
            case "K" when item is DicomElement element:
                if (element.ValueRepresentation == DicomVR.UI && element.Length > 0 && !_settings.Options.Contains(DeidentificationOption.RetainUids)) MapUids(element, target);
                else target.AddOrUpdate(element.Clone());
                return;
            case "U" when item is DicomElement element:
                MapUids(element, target);
                return;
            case "D" when item is DicomElement element:
                if (element.ValueRepresentation == DicomVR.UI) MapUids(element, target);
                else target.AddOrUpdate(element.ValueRepresentation, item.Tag, DummyValue(element.ValueRepresentation));
                return;
            case "C" when item is DicomElement element:
                var vr = element.ValueRepresentation.Code;
                if (vr is "DA" or "DT")
                {
                    var source = DicomValueCodec.SplitValues(element, DicomCharacterSet.Default);
                    target.AddOrUpdate(element.ValueRepresentation, item.Tag, source.Select(v => Shift(v.Trim(), patient.ShiftDays)).ToArray());
                }
                else if (vr == "TM" || !FreeText.Contains(vr))
                {
                    target.AddOrUpdate(element.Clone()); // a time of day without its date, or a value that is not text, says nothing of identity
                }
                else
                {
                    // Cleaning free text would need to know what in it is identifying; it is emptied instead.
                    target.AddOrUpdate(new DicomElement(item.Tag, element.ValueRepresentation, ReadOnlyMemory<byte>.Empty));
                }

                return;
            default:
                target.AddOrUpdate(item.Clone()); // encapsulated pixel data and anything else the table keeps
                return;
        }
    }

    /// <summary>Replaces each UID that the standard does not register (a SOP class, a transfer syntax, a coding scheme is kept).</summary>
    private void MapUids(DicomElement element, DicomDataset target)
    {
        var values = DicomValueCodec.SplitValues(element, DicomCharacterSet.Default);
        target.AddOrUpdate(DicomVR.UI, element.Tag, values.Select(v => DicomUID.Lookup(v).Type == DicomUidType.Unknown ? NewUid(v) : v.Trim()).ToArray());
    }

    private static string[] DummyValue(DicomVR vr) => vr.Code switch
    {
        "DA" => ["19000101"],
        "TM" => ["000000"],
        "DT" => ["19000101000000"],
        "AS" => ["000Y"],
        "IS" or "DS" or "US" or "SS" or "UL" or "SL" or "FL" or "FD" or "UV" or "SV" => ["0"],
        "CS" => [Dummy],
        _ => [Dummy],
    };

    /// <summary>A date (YYYYMMDD) or the date of a date-time moved by the patient's shift; a value that is not one is emptied.</summary>
    private static string Shift(string value, int days)
    {
        if (value.Length < 8 || !DateTime.TryParseExact(value[..8], "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)) return "";
        return date.AddDays(-days).ToString("yyyyMMdd", CultureInfo.InvariantCulture) + value[8..];
    }

    private string Pseudonym(string patientId)
    {
        lock (_lock)
        {
            if (_patients.TryGetValue(patientId, out var known)) return known;
            var pseudonym = _settings.PatientPseudonyms.TryGetValue(patientId, out var listed) ? listed
                : "P" + Convert.ToHexString(HMACSHA256.HashData(_settings.Key, Encoding.UTF8.GetBytes("patient\u001f" + patientId)))[..12];
            return _patients[patientId] = pseudonym;
        }
    }

    /// <summary>A per-patient shift of one to eleven years back, in whole days, so that intervals within a patient are kept.</summary>
    private int DateShiftDays(string patientId)
    {
        var hash = HMACSHA256.HashData(_settings.Key, Encoding.UTF8.GetBytes("date-shift\u001f" + patientId));
        return 365 + (int)(BitConverter.ToUInt32(hash, 0) % 3650);
    }

    private void Count(string action)
    {
        lock (_lock) _counts[action] = _counts.GetValueOrDefault(action) + 1;
    }
}
