using System.Text;
using MedfusionDicom.Dicom;

namespace MedfusionDicom.Dicom.Tests;

public class DicomDatasetTests
{
    [Fact]
    public void Strings_keep_backslash_multiplicity_and_lose_padding()
    {
        var ds = new DicomDataset().AddOrUpdate(DicomTag.ImageType, "DERIVED", "SECONDARY", "AXIAL");
        Assert.Equal(["DERIVED", "SECONDARY", "AXIAL"], ds.GetValues<string>(DicomTag.ImageType));
        Assert.Equal(@"DERIVED\SECONDARY\AXIAL", ds.GetString(DicomTag.ImageType));
        Assert.Equal(0, ds.GetElement(DicomTag.ImageType).Length % 2);
        Assert.Equal(3, ds.GetValueCount(DicomTag.ImageType));
    }

    [Fact]
    public void UIDs_pad_with_NUL_and_other_strings_with_space()
    {
        var ds = new DicomDataset().AddOrUpdate(DicomTag.SOPInstanceUID, "1.2.3").AddOrUpdate(DicomTag.PatientID, "ABC");
        Assert.Equal((byte)0, ds.GetElement(DicomTag.SOPInstanceUID).Buffer.Memory.Span[^1]);
        Assert.Equal((byte)' ', ds.GetElement(DicomTag.PatientID).Buffer.Memory.Span[^1]);
        Assert.Equal("1.2.3", ds.GetString(DicomTag.SOPInstanceUID));
    }

    [Fact]
    public void Person_names_split_into_groups_and_components()
    {
        var ds = new DicomDataset().AddOrUpdate(DicomTag.SpecificCharacterSet, "ISO_IR 192").AddOrUpdate(DicomTag.PatientName, "Yamada^Tarou=山田^太郎=やまだ^たろう");
        var pn = ds.GetSingleValue<DicomPersonName>(DicomTag.PatientName);
        Assert.Equal("Yamada", pn.FamilyName);
        Assert.Equal("Tarou", pn.GivenName);
        Assert.Equal("山田^太郎", pn.Ideographic);
        Assert.Equal("やまだ^たろう", pn.Phonetic);
    }

    [Fact]
    public void Dates_times_and_numbers_parse_by_VR()
    {
        var ds = new DicomDataset()
            .AddOrUpdate(DicomTag.StudyDate, new DateTime(2024, 3, 5))
            .AddOrUpdate(DicomTag.StudyTime, "134501.25")
            .AddOrUpdate(DicomTag.AcquisitionDateTime, "20240305134501.5+0100")
            .AddOrUpdate(DicomTag.SliceThickness, 2.5)
            .AddOrUpdate(DicomTag.PixelSpacing, 0.3125, 0.3125)
            .AddOrUpdate(DicomTag.SeriesNumber, 12)
            .AddOrUpdate(DicomTag.Rows, (ushort)512)
            .AddOrUpdate(DicomTag.RescaleIntercept, -1024.0);
        Assert.Equal("20240305", ds.GetString(DicomTag.StudyDate));
        Assert.Equal(new DateTime(2024, 3, 5), ds.GetSingleValue<DateTime>(DicomTag.StudyDate));
        Assert.Equal(new TimeSpan(0, 13, 45, 1, 250), ds.GetSingleValue<TimeSpan>(DicomTag.StudyTime));
        Assert.Equal(new DateTime(2024, 3, 5, 13, 45, 1, 500), ds.GetSingleValue<DateTime>(DicomTag.AcquisitionDateTime));
        Assert.Equal(2.5, ds.GetSingleValue<double>(DicomTag.SliceThickness));
        Assert.Equal([0.3125, 0.3125], ds.GetValues<double>(DicomTag.PixelSpacing));
        Assert.Equal(12, ds.GetSingleValue<int>(DicomTag.SeriesNumber));
        Assert.Equal(512, ds.GetSingleValue<int>(DicomTag.Rows));
        Assert.Equal("-1024", ds.GetString(DicomTag.RescaleIntercept));
        Assert.Equal(2, ds.GetElement(DicomTag.Rows).Length);
    }

    [Fact]
    public void Decimal_strings_never_exceed_16_characters()
    {
        var ds = new DicomDataset().AddOrUpdate(DicomTag.SliceLocation, Math.PI * 1e-7);
        var text = ds.GetString(DicomTag.SliceLocation);
        Assert.True(text.Length <= 16, text);
        Assert.Equal(Math.PI * 1e-7, double.Parse(text, System.Globalization.CultureInfo.InvariantCulture), 1e-15);
    }

    [Fact]
    public void Binary_values_and_attribute_tags_encode_little_endian()
    {
        var ds = new DicomDataset()
            .AddOrUpdate(DicomTag.FrameIncrementPointer, DicomTag.FrameTime)
            .AddOrUpdate(DicomVR.SL, new DicomTag(0x0019, 0x1001), -5, 7);
        Assert.Equal(DicomTag.FrameTime, ds.GetSingleValue<DicomTag>(DicomTag.FrameIncrementPointer));
        Assert.Equal(new byte[] { 0x18, 0x00, 0x63, 0x10 }, ds.GetElement(DicomTag.FrameIncrementPointer).Buffer.Memory.ToArray());
        Assert.Equal([-5, 7], ds.GetValues<int>(new DicomTag(0x0019, 0x1001)));
    }

    [Fact]
    public void Sequences_nest_and_items_inherit_the_character_set()
    {
        var ds = new DicomDataset().AddOrUpdate(DicomTag.SpecificCharacterSet, "ISO_IR 192");
        var item = new DicomDataset();
        ds.AddOrUpdate(DicomTag.ReferencedSeriesSequence, item);
        item.AddOrUpdate(DicomTag.SeriesDescription, "Lungenröntgen");
        Assert.Equal("Lungenröntgen", ds.GetSequence(DicomTag.ReferencedSeriesSequence).Items[0].GetString(DicomTag.SeriesDescription));
        Assert.Equal(Encoding.UTF8.GetBytes("Lungenröntgen"), item.GetElement(DicomTag.SeriesDescription).Buffer.Memory.ToArray());
    }

    [Fact]
    public void Missing_elements_and_wrong_types_raise_clear_errors()
    {
        var ds = new DicomDataset().AddOrUpdate(DicomTag.PatientID, "not-a-number");
        var missing = Assert.Throws<DicomValueException>(() => ds.GetString(DicomTag.PatientName));
        Assert.Contains("PatientName", missing.Message);
        var wrong = Assert.Throws<DicomValueException>(() => ds.GetSingleValue<int>(DicomTag.PatientID));
        Assert.Contains("not-a-number", wrong.Message);
        Assert.Throws<DicomValueException>(() => ds.AddOrUpdate(new DicomTag(0x0011, 0x1010), "x"));
        Assert.Throws<DicomValueException>(() => ds.AddOrUpdate(DicomTag.PatientName, "Müller"));
    }

    [Fact]
    public void Clone_is_deep_for_structure()
    {
        var ds = new DicomDataset().AddOrUpdate(DicomTag.ReferencedSeriesSequence, new DicomDataset().AddOrUpdate(DicomTag.SeriesInstanceUID, "1.2"));
        var copy = ds.Clone();
        copy.GetSequence(DicomTag.ReferencedSeriesSequence).Items[0].AddOrUpdate(DicomTag.SeriesInstanceUID, "9.9");
        Assert.Equal("1.2", ds.GetSequence(DicomTag.ReferencedSeriesSequence).Items[0].GetString(DicomTag.SeriesInstanceUID));
    }
}

public class UnknownVRValueTests
{
    [Fact]
    public void Standard_elements_stored_as_UN_read_as_their_dictionary_VR()
    {
        var ds = new DicomDataset()
            .AddOrUpdate(new DicomElement(DicomTag.SOPInstanceUID, DicomVR.UN, "1.2.3\0"u8.ToArray()))
            .AddOrUpdate(new DicomElement(DicomTag.Rows, DicomVR.UN, new byte[] { 0x00, 0x02 }));
        Assert.Equal("1.2.3", ds.GetString(DicomTag.SOPInstanceUID));
        Assert.Equal(512, ds.GetSingleValue<int>(DicomTag.Rows));
        Assert.Equal(DicomVR.UN, ds.GetElement(DicomTag.Rows).ValueRepresentation); // the element itself is unchanged
    }
}
