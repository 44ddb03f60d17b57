using MedfusionDicom.Dicom.Deidentification;

namespace MedfusionDicom.Dicom.Tests;

/// <summary>DicomDeidentifier's options, keys and mappings, each against what Table E.1-1 says of the attributes involved.</summary>
public sealed class DeidentificationTests
{
    private static readonly byte[] Key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    private static DicomDataset Study(string patientId, string studyDate, string studyUid = "1.2.3.4.5.6", string sopUid = "1.2.3.4.5.6.7") => new DicomDataset()
        .AddOrUpdate(DicomTag.SOPClassUID, "1.2.840.10008.5.1.4.1.1.7")
        .AddOrUpdate(DicomTag.SOPInstanceUID, sopUid)
        .AddOrUpdate(DicomTag.StudyInstanceUID, studyUid)
        .AddOrUpdate(DicomTag.PatientID, patientId)
        .AddOrUpdate(DicomTag.PatientName, "DOE^JANE")
        .AddOrUpdate(DicomTag.PatientSex, "F")
        .AddOrUpdate(DicomTag.PatientAge, "042Y")
        .AddOrUpdate(DicomTag.StudyDate, studyDate)
        .AddOrUpdate(DicomTag.AcquisitionDateTime, studyDate + "101500")
        .AddOrUpdate(DicomTag.DeviceSerialNumber, "SN-1234")
        .AddOrUpdate(DicomTag.Modality, "OT")
        .AddOrUpdate(DicomTag.ReferencedImageSequence, new DicomDataset()
            .AddOrUpdate(DicomTag.ReferencedSOPClassUID, "1.2.840.10008.5.1.4.1.1.7")
            .AddOrUpdate(DicomTag.ReferencedSOPInstanceUID, "1.2.3.4.5.6.8"));

    private static DicomDeidentifier With(params DeidentificationOption[] options) => new(new DeidentificationSettings { Key = Key, Options = options.ToHashSet() });

    private static DateTime Date(string value) => DateTime.ParseExact(value, "yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void The_table_is_the_named_edition_and_carries_its_rows()
    {
        var profile = ConfidentialityProfile.Standard;
        Assert.Equal("2020c", profile.Edition);
        Assert.True(profile.Count > 400);
        Assert.Equal("Z", profile.Find(DicomTag.PatientName)!.Basic);
        Assert.Equal("U", profile.Find(DicomTag.SOPInstanceUID)!.Basic);
        Assert.Equal("X", profile.Find(new DicomTag(0x6002, 0x3000))!.Basic); // Overlay Data, (60xx,3000)
        Assert.Null(profile.Find(DicomTag.Modality));
    }

    [Fact]
    public void The_basic_profile_empties_dates_replaces_UIDs_everywhere_and_records_what_it_did()
    {
        var d = With();
        var result = d.Deidentify(Study("MRN-1", "20200101"));

        Assert.Equal(0, result.GetElement(DicomTag.StudyDate).Length); // Z
        Assert.False(result.Contains(DicomTag.PatientAge)); // X
        Assert.Equal("ANONYMIZED", result.GetString(DicomTag.DeviceSerialNumber)); // X/Z/D: D
        Assert.Equal(d.NewUid("1.2.3.4.5.6"), result.GetString(DicomTag.StudyInstanceUID));
        Assert.Equal(d.NewUid("1.2.3.4.5.6.8"), result.GetSequence(DicomTag.ReferencedImageSequence).Items[0].GetString(DicomTag.ReferencedSOPInstanceUID));
        Assert.Equal("1.2.840.10008.5.1.4.1.1.7", result.GetString(DicomTag.SOPClassUID));
        Assert.True(DicomUID.IsValid(d.NewUid("1.2.3.4.5.6")));
        Assert.Equal("REMOVED", result.GetString(DicomTag.LongitudinalTemporalInformationModified));
        Assert.Equal("YES", result.GetString(DicomTag.PatientIdentityRemoved));
        Assert.Equal(["113100"], result.GetSequence(DicomTag.DeidentificationMethodCodeSequence).Items.Select(i => i.GetString(DicomTag.CodeValue)));
        Assert.Equal(d.PatientMap["MRN-1"], result.GetString(DicomTag.PatientID));
        Assert.Equal(result.GetString(DicomTag.PatientID), result.GetString(DicomTag.PatientName));
    }

    [Fact]
    public void Modified_dates_shift_each_patient_by_one_keyed_amount_so_intervals_stay()
    {
        var d = With(DeidentificationOption.RetainLongitudinalTemporalInformationModifiedDates);
        var first = d.Deidentify(Study("MRN-1", "20200101"));
        var later = d.Deidentify(Study("MRN-1", "20200115", sopUid: "1.2.3.4.5.6.9"));
        var other = With(DeidentificationOption.RetainLongitudinalTemporalInformationModifiedDates).Deidentify(Study("MRN-1", "20200101"));

        var shift = (Date("20200101") - Date(first.GetString(DicomTag.StudyDate))).TotalDays;
        Assert.InRange(shift, 365, 4015);
        Assert.Equal(14, (Date(later.GetString(DicomTag.StudyDate)) - Date(first.GetString(DicomTag.StudyDate))).TotalDays);
        Assert.Equal(first.GetString(DicomTag.StudyDate) + "101500", first.GetString(DicomTag.AcquisitionDateTime)); // DT: the date part moves, the time stays
        Assert.Equal(first.GetString(DicomTag.StudyDate), other.GetString(DicomTag.StudyDate)); // the same key, the same shift
        Assert.Equal("MODIFIED", first.GetString(DicomTag.LongitudinalTemporalInformationModified));
        Assert.Contains("113107", first.GetSequence(DicomTag.DeidentificationMethodCodeSequence).Items.Select(i => i.GetString(DicomTag.CodeValue)));

        var full = With(DeidentificationOption.RetainLongitudinalTemporalInformationFullDates).Deidentify(Study("MRN-1", "20200101"));
        Assert.Equal("20200101", full.GetString(DicomTag.StudyDate));
    }

    [Fact]
    public void Retain_options_keep_their_attributes_and_only_theirs()
    {
        var uids = With(DeidentificationOption.RetainUids).Deidentify(Study("MRN-1", "20200101"));
        Assert.Equal("1.2.3.4.5.6", uids.GetString(DicomTag.StudyInstanceUID));
        Assert.Equal("1.2.3.4.5.6.8", uids.GetSequence(DicomTag.ReferencedImageSequence).Items[0].GetString(DicomTag.ReferencedSOPInstanceUID));
        Assert.Equal(0, uids.GetElement(DicomTag.StudyDate).Length);

        var characteristics = With(DeidentificationOption.RetainPatientCharacteristics).Deidentify(Study("MRN-1", "20200101"));
        Assert.Equal(("F", "042Y"), (characteristics.GetString(DicomTag.PatientSex), characteristics.GetString(DicomTag.PatientAge)));
        Assert.Equal("ANONYMIZED", characteristics.GetString(DicomTag.DeviceSerialNumber));

        var device = With(DeidentificationOption.RetainDeviceIdentity).Deidentify(Study("MRN-1", "20200101"));
        Assert.Equal("SN-1234", device.GetString(DicomTag.DeviceSerialNumber));
        Assert.False(device.Contains(DicomTag.PatientAge));
    }

    [Fact]
    public void Safe_private_keeps_only_the_listed_private_attributes_with_their_creator()
    {
        var source = Study("MRN-1", "20200101")
            .AddOrUpdate(DicomVR.LO, new DicomTag(0x0019, 0x0010), "ACME SAFE")
            .AddOrUpdate(DicomVR.DS, new DicomTag(0x0019, 0x1001), "2.5")
            .AddOrUpdate(DicomVR.LO, new DicomTag(0x0019, 0x1002), "operator JOHN");
        var settings = new DeidentificationSettings
        {
            Key = Key,
            Options = new HashSet<DeidentificationOption> { DeidentificationOption.RetainSafePrivate },
            SafePrivate = new HashSet<(string, byte)> { ("ACME SAFE", 0x01) },
        };

        var result = new DicomDeidentifier(settings).Deidentify(source);
        Assert.Equal("ACME SAFE", result.GetString(new DicomTag(0x0019, 0x0010)));
        Assert.Equal("2.5", result.GetString(new DicomTag(0x0019, 0x1001)));
        Assert.False(result.Contains(new DicomTag(0x0019, 0x1002)));
        Assert.False(With().Deidentify(source).Contains(new DicomTag(0x0019, 0x1001)));
    }

    [Fact]
    public void Keys_and_pseudonym_maps_decide_the_replacements()
    {
        Assert.Equal(With().NewUid("1.2.3"), With().NewUid("1.2.3"));
        Assert.NotEqual(With().NewUid("1.2.3"), new DicomDeidentifier(new DeidentificationSettings { Key = new byte[32] }).NewUid("1.2.3"));
        var mapped = new DicomDeidentifier(new DeidentificationSettings { Key = Key, PatientPseudonyms = new Dictionary<string, string> { ["MRN-1"] = "STUDY-007" } });
        Assert.Equal("STUDY-007", mapped.Deidentify(Study("MRN-1", "20200101")).GetString(DicomTag.PatientID));

        Assert.Throws<DicomException>(() => new DicomDeidentifier(new DeidentificationSettings { Key = new byte[8] }));
        Assert.Throws<DicomException>(() => With(DeidentificationOption.RetainLongitudinalTemporalInformationFullDates, DeidentificationOption.RetainLongitudinalTemporalInformationModifiedDates));
        Assert.Throws<DicomException>(() => DeidentificationOptionNames.Parse("retain-everything"));
        Assert.Equal(DeidentificationOption.CleanDescriptors, DeidentificationOptionNames.Parse("Clean-Descriptors"));
    }
}
