using MedfusionDicom.Dicom;

namespace MedfusionDicom.Dicom.Tests;

public class DicomTagAndDictionaryTests
{
    [Fact]
    public void Keyword_properties_match_the_dictionary()
    {
        Assert.Equal(new DicomTag(0x0010, 0x0010), DicomTag.PatientName);
        var entry = DicomTag.PatientName.DictionaryEntry;
        Assert.Equal("PatientName", entry.Keyword);
        Assert.Equal(DicomVR.PN, entry.ValueRepresentation);
        Assert.Equal("1", entry.ValueMultiplicity);
        Assert.False(entry.IsRetired);
    }

    [Fact]
    public void Repeating_groups_and_retired_entries_are_found()
    {
        var overlayRows = DicomDictionary.Default[new DicomTag(0x6002, 0x0010)];
        Assert.Equal("OverlayRows", overlayRows.Keyword);
        Assert.Equal(DicomVR.US, overlayRows.ValueRepresentation);
        Assert.True(DicomDictionary.Default.Entries.Count(e => e.IsRetired) > 100);
    }

    [Fact]
    public void Private_and_unknown_tags_are_UN_and_private_creators_LO()
    {
        Assert.Equal(DicomVR.UN, new DicomTag(0x0009, 0x1001).DictionaryEntry.ValueRepresentation);
        Assert.Equal(DicomVR.LO, new DicomTag(0x0009, 0x0010).DictionaryEntry.ValueRepresentation);
        Assert.Equal(DicomVR.UN, new DicomTag(0x0008, 0x0003).DictionaryEntry.ValueRepresentation);
    }

    [Theory]
    [InlineData("(0010,0010)")]
    [InlineData("0010,0010")]
    [InlineData("00100010")]
    [InlineData("PatientName")]
    public void Tags_parse_from_text_and_keywords(string text) => Assert.Equal(DicomTag.PatientName, DicomTag.Parse(text));

    [Fact]
    public void Tags_order_by_group_then_element()
    {
        Assert.True(DicomTag.PatientName < DicomTag.PatientID);
        Assert.True(new DicomTag(0x0008, 0xFFFF) < new DicomTag(0x0009, 0x0000));
        Assert.Equal("(7FE0,0010)", DicomTag.PixelData.ToString());
    }

    [Fact]
    public void Every_VR_of_PS3_5_is_known_with_its_header_form()
    {
        string[] all = ["AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD", "OF", "OL", "OV", "OW",
            "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV"];
        Assert.Equal(all.Order(), DicomVR.All.Select(v => v.Code).Order());
        string[] longHeader = ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"];
        Assert.Equal(longHeader.Order(), DicomVR.All.Where(v => v.HasLongExplicitHeader).Select(v => v.Code).Order());
    }

    [Fact]
    public void UID_registry_knows_transfer_syntaxes_and_storage_classes()
    {
        Assert.Equal(DicomUidType.TransferSyntax, DicomUID.Lookup("1.2.840.10008.1.2.1").Type);
        Assert.Equal("MR Image Storage", DicomUID.Lookup("1.2.840.10008.5.1.4.1.1.4").Name);
        Assert.True(DicomUID.All.Count(u => u.IsImageStorage) > 50);
        Assert.True(DicomTransferSyntax.Parse("1.2.840.10008.1.2.4.50").IsLossy);
        Assert.False(DicomTransferSyntax.Parse("1.2.840.10008.1.2.4.70").IsLossy);
        Assert.Throws<DicomException>(() => DicomTransferSyntax.Parse("1.2.3.4"));
    }
}
