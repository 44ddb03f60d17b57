namespace MedfusionDicom.Dicom.Deidentification;

/// <summary>The options of PS3.15 Table E.1-1 (E.3), each of which changes some of the Basic Profile's actions.</summary>
public enum DeidentificationOption
{
    RetainSafePrivate,
    RetainUids,
    RetainDeviceIdentity,
    RetainInstitutionIdentity,
    RetainPatientCharacteristics,
    RetainLongitudinalTemporalInformationFullDates,
    RetainLongitudinalTemporalInformationModifiedDates,
    CleanDescriptors,
    CleanStructuredContent,
    CleanGraphics,
    CleanPixelData,
}

/// <summary>The CLI and settings names of the options, and the CID 7050 code that records each.</summary>
public static class DeidentificationOptionNames
{
    private static readonly (DeidentificationOption Option, string Name, string Code, string Meaning)[] Known =
    [
        (DeidentificationOption.RetainSafePrivate, "retain-safe-private", "113111", "Retain Safe Private Option"),
        (DeidentificationOption.RetainUids, "retain-uids", "113110", "Retain UIDs Option"),
        (DeidentificationOption.RetainDeviceIdentity, "retain-device-identity", "113109", "Retain Device Identity Option"),
        (DeidentificationOption.RetainInstitutionIdentity, "retain-institution-identity", "113112", "Retain Institution Identity Option"),
        (DeidentificationOption.RetainPatientCharacteristics, "retain-patient-characteristics", "113108", "Retain Patient Characteristics Option"),
        (DeidentificationOption.RetainLongitudinalTemporalInformationFullDates, "retain-longitudinal-full-dates", "113106", "Retain Longitudinal Temporal Information Full Dates Option"),
        (DeidentificationOption.RetainLongitudinalTemporalInformationModifiedDates, "retain-longitudinal-modified-dates", "113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
        (DeidentificationOption.CleanDescriptors, "clean-descriptors", "113105", "Clean Descriptors Option"),
        (DeidentificationOption.CleanStructuredContent, "clean-structured-content", "113104", "Clean Structured Content Option"),
        (DeidentificationOption.CleanGraphics, "clean-graphics", "113103", "Clean Graphics Option"),
        (DeidentificationOption.CleanPixelData, "clean-pixel-data", "113101", "Clean Pixel Data Option"),
    ];

    public static IEnumerable<string> All => Known.Select(k => k.Name);

    public static string NameOf(DeidentificationOption option) => Known.Single(k => k.Option == option).Name;

    /// <summary>The option a name stands for (case-insensitive).</summary>
    /// <exception cref="DicomException">The name is not one of <see cref="All"/>.</exception>
    public static DeidentificationOption Parse(string name) =>
        Known.FirstOrDefault(k => k.Name.Equals(name.Trim(), StringComparison.OrdinalIgnoreCase)) is { Name: not null } found
            ? found.Option
            : throw new DicomException($"'{name}' is not a de-identification option; the options are {string.Join(", ", All)}");

    /// <summary>The CID 7050 code (scheme DCM) that records the option in De-identification Method Code Sequence.</summary>
    public static (string Code, string Meaning) CodeOf(DeidentificationOption option)
    {
        var k = Known.Single(k => k.Option == option);
        return (k.Code, k.Meaning);
    }
}
