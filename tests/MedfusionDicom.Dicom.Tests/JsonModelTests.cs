using System.Text;
using System.Text.Json;
using MedfusionDicom.Dicom.IO;
using MedfusionDicom.Dicom.Json;

namespace MedfusionDicom.Dicom.Tests;

public class JsonModelTests
{
    private static DicomDataset Sample()
    {
        var ds = new DicomDataset();
        ds.AddOrUpdate(DicomTag.SpecificCharacterSet, "ISO_IR 192");
        ds.AddOrUpdate(DicomTag.ImageType, "ORIGINAL", "PRIMARY");
        ds.AddOrUpdate(DicomTag.PatientName, "Yamada^Tarou=山田^太郎=やまだ^たろう");
        ds.AddOrUpdate(DicomTag.PatientID, "ID 1");
        ds.AddOrUpdate(DicomTag.PatientWeight, "72.5");
        ds.AddOrUpdate(DicomVR.DS, DicomTag.PixelSpacing, "0.5", "-1e-3");
        ds.AddOrUpdate(DicomTag.InstanceNumber, "12");
        ds.AddOrUpdate(DicomTag.Rows, (ushort)512);
        ds.AddOrUpdate(DicomVR.SS, DicomTag.SmallestImagePixelValue, (short)-100);
        ds.AddOrUpdate(DicomVR.FD, new DicomTag(0x0018, 0x9087), 1000.25); // Diffusion b-value
        ds.AddOrUpdate(DicomVR.FL, new DicomTag(0x0018, 0x9089), 0.1f, -0.5f, 3e-38f);
        ds.AddOrUpdate(DicomVR.UV, new DicomTag(0x0011, 0x1001), ulong.MaxValue);
        ds.AddOrUpdate(DicomVR.SV, new DicomTag(0x0011, 0x1002), long.MinValue);
        ds.AddOrUpdate(DicomVR.AT, DicomTag.FrameIncrementPointer, DicomTag.FrameTime);
        ds.AddOrUpdate(DicomTag.StudyDescription, "");
        ds.AddOrUpdate(DicomVR.LO, DicomTag.RETIRED_OtherPatientIDs, "A", "", "C");
        ds.AddOrUpdate(new DicomElement(new DicomTag(0x0011, 0x1010), DicomVR.OB, new byte[] { 1, 2, 3, 4 }));
        ds.AddOrUpdate(new DicomElement(DicomTag.PixelData, DicomVR.OW, Enumerable.Range(0, 64).Select(i => (byte)i).ToArray()));
        var item = new DicomDataset();
        item.AddOrUpdate(DicomTag.ReferencedSOPInstanceUID, "1.2.3.4");
        item.AddOrUpdate(new DicomElement(new DicomTag(0x0011, 0x1011), DicomVR.OB, new byte[] { 9, 9 }));
        ds.AddOrUpdate(DicomTag.ReferencedImageSequence, item, new DicomDataset());
        ds.AddOrUpdate(new DicomSequence(DicomTag.ReferencedStudySequence));
        return ds;
    }

    [Fact]
    public void Writes_the_PS3_18_model()
    {
        using var doc = JsonDocument.Parse(DicomJsonWriter.ToJson(Sample()));
        var root = doc.RootElement;
        // Tag order, 8 upper-case hex digits.
        var names = root.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
        Assert.Equal("PN", root.GetProperty("00100010").GetProperty("vr").GetString());
        var pn = root.GetProperty("00100010").GetProperty("Value")[0];
        Assert.Equal("Yamada^Tarou", pn.GetProperty("Alphabetic").GetString());
        Assert.Equal("山田^太郎", pn.GetProperty("Ideographic").GetString());
        Assert.Equal("やまだ^たろう", pn.GetProperty("Phonetic").GetString());
        Assert.Equal(JsonValueKind.Number, root.GetProperty("00101030").GetProperty("Value")[0].ValueKind);
        Assert.Equal("72.5", root.GetProperty("00101030").GetProperty("Value")[0].GetRawText());
        Assert.Equal("-1e-3", root.GetProperty("00280030").GetProperty("Value")[1].GetRawText());
        Assert.Equal(12, root.GetProperty("00200013").GetProperty("Value")[0].GetInt32());
        Assert.Equal(-100, root.GetProperty("00280106").GetProperty("Value")[0].GetInt32());
        Assert.Equal(ulong.MaxValue, root.GetProperty("00111001").GetProperty("Value")[0].GetUInt64());
        Assert.Equal("00181063", root.GetProperty("00280009").GetProperty("Value")[0].GetString());
        Assert.False(root.GetProperty("00081030").TryGetProperty("Value", out _)); // empty: no Value
        Assert.Equal(JsonValueKind.Null, root.GetProperty("00101000").GetProperty("Value")[1].ValueKind);
        Assert.Equal("AQIDBA==", root.GetProperty("00111010").GetProperty("InlineBinary").GetString());
        var seq = root.GetProperty("00081140").GetProperty("Value");
        Assert.Equal(2, seq.GetArrayLength());
        Assert.Equal("1.2.3.4", seq[0].GetProperty("00081155").GetProperty("Value")[0].GetString());
        Assert.Empty(seq[1].EnumerateObject());
        Assert.False(root.GetProperty("00081110").TryGetProperty("Value", out _));
    }

    [Fact]
    public void Round_trip_gives_the_same_elements()
    {
        var ds = Sample();
        var back = DicomJsonReader.Read(DicomJsonWriter.ToJson(ds));
        var diffs = new List<string>();
        DatasetComparison.Compare(ds, back, implicitTarget: false, "", diffs);
        Assert.True(diffs.Count == 0, string.Join('\n', diffs));
        Assert.Equal(-100, back.GetSingleValue<short>(DicomTag.SmallestImagePixelValue));
        Assert.Equal(long.MinValue, back.GetSingleValue<long>(new DicomTag(0x0011, 0x1002)));
    }

    [Fact]
    public void Bulk_data_goes_through_the_hook_with_its_path_and_comes_back_as_a_resolvable_reference()
    {
        var seen = new List<string>();
        var options = new DicomJsonWriterOptions
        {
            BulkDataUri = ctx =>
            {
                seen.Add(ctx.PathString);
                return ctx.Tag == DicomTag.PixelData || ctx.Parents.Count > 0 ? "https://pacs/bulk/" + ctx.PathString : null;
            },
        };
        var ds = Sample();
        var json = DicomJsonWriter.ToJson(ds, options);
        Assert.Equal(["00081140/0/00111011", "00111010", "7FE00010"], seen); // tag order, depth first
        using (var doc = JsonDocument.Parse(json))
        {
            Assert.Equal("https://pacs/bulk/7FE00010", doc.RootElement.GetProperty("7FE00010").GetProperty("BulkDataURI").GetString());
            Assert.True(doc.RootElement.GetProperty("00111010").TryGetProperty("InlineBinary", out _));
        }

        // Without a resolver the URI is kept, and writing JSON again keeps it; using the bytes says what is missing.
        var unresolved = DicomJsonReader.Read(json);
        var buffer = Assert.IsType<BulkDataUriByteBuffer>(unresolved.GetElement(DicomTag.PixelData).Buffer);
        Assert.Equal("https://pacs/bulk/7FE00010", buffer.Uri);
        Assert.Contains("https://pacs/bulk/7FE00010", Assert.Throws<DicomException>(() => buffer.Memory).Message);
        Assert.Contains("\"BulkDataURI\":\"https://pacs/bulk/7FE00010\"", DicomJsonWriter.ToJson(unresolved));

        // With one, the bytes are fetched on use.
        var pixels = ds.GetElement(DicomTag.PixelData).Buffer.Memory.ToArray();
        var fetched = new List<string>();
        var resolved = DicomJsonReader.Read(json, new DicomJsonReaderOptions { BulkDataResolver = uri => { fetched.Add(uri); return pixels; } });
        Assert.Empty(fetched);
        Assert.Equal(pixels, resolved.GetElement(DicomTag.PixelData).Buffer.Memory.ToArray());
        Assert.Equal(["https://pacs/bulk/7FE00010"], fetched);
    }

    [Fact]
    public void Encapsulated_pixel_data_round_trips_inline()
    {
        var ds = new DicomDataset();
        var frames = new[] { new MemoryByteBuffer(new byte[] { 0xFF, 0xD8, 1, 2, 0xFF, 0xD9 }), new MemoryByteBuffer(new byte[] { 0xFF, 0xD8, 3, 0xFF, 0xD9 }) };
        ds.AddOrUpdate(new DicomFragmentSequence(DicomTag.PixelData, DicomVR.OB, new MemoryByteBuffer(new byte[] { 0, 0, 0, 0, 14, 0, 0, 0 }), frames));
        var back = DicomJsonReader.Read(DicomJsonWriter.ToJson(ds));
        var diffs = new List<string>();
        DatasetComparison.Compare(ds, back, implicitTarget: false, "", diffs);
        Assert.True(diffs.Count == 0, string.Join('\n', diffs));
    }

    [Fact]
    public void Numbers_go_back_to_the_VRs_encoding()
    {
        const string json = """
            {"00280010":{"vr":"US","Value":[256]},"00200013":{"vr":"IS","Value":[-7]},"00281050":{"vr":"DS","Value":[40.0,1.23456789012345678e+300]},
             "00189089":{"vr":"FD","Value":[0.1,"NaN"]},"00280009":{"vr":"AT","Value":["00181063"]},"00100010":{"vr":"PN","Value":[{"Alphabetic":"A^B","Phonetic":"c^d"},null]}}
            """;
        var ds = DicomJsonReader.Read(json);
        Assert.Equal(new byte[] { 0, 1 }, ds.GetBuffer(DicomTag.Rows).Memory.ToArray());
        Assert.Equal("-7", ds.GetString(DicomTag.InstanceNumber));
        var ds2 = ds.GetString(DicomTag.WindowCenter).Split('\\');
        Assert.Equal("40.0", ds2[0]);
        Assert.True(ds2[1].Length <= 16 && Math.Abs(double.Parse(ds2[1], System.Globalization.CultureInfo.InvariantCulture) / 1.23456789012345678e+300 - 1) < 1e-9); // 16 characters hold 10 digits here
        var fd = ds.GetValues<double>(new DicomTag(0x0018, 0x9089));
        Assert.Equal(0.1, fd[0]);
        Assert.True(double.IsNaN(fd[1]));
        Assert.Equal(DicomTag.FrameTime, ds.GetSingleValue<DicomTag>(DicomTag.FrameIncrementPointer));
        Assert.Equal("A^B==c^d\\", ds.GetString(DicomTag.PatientName));
    }

    [Theory]
    [InlineData("[]", "dataset object")]
    [InlineData("{\"0010001\":{\"vr\":\"PN\"}}", "8 hex digits")]
    [InlineData("{\"00100010\":{\"vr\":\"XX\"}}", "vr")]
    [InlineData("{\"00280010\":{\"vr\":\"US\",\"Value\":[70000]}}", "fits the VR")]
    [InlineData("{\"00280010\":{\"vr\":\"US\",\"Value\":3}}", "must be an array")]
    [InlineData("{\"00280009\":{\"vr\":\"AT\",\"Value\":[\"xyz\"]}}", "ggggeeee")]
    [InlineData("{\"7FE00010\":{\"vr\":\"OW\",\"InlineBinary\":\"***\"}}", "base64")]
    [InlineData("{\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Nickname\":\"x\"}]}}", "Nickname")]
    [InlineData("{\"00100010\":", "not valid JSON")]
    public void Malformed_json_raises_DicomJsonException_with_its_location(string json, string expected)
    {
        var ex = Assert.Throws<DicomJsonException>(() => DicomJsonReader.Read(json));
        Assert.Contains(expected, ex.Message);
        Assert.StartsWith("$", ex.JsonPath);
    }

    [Fact]
    public void Deeply_nested_json_is_refused()
    {
        var sb = new StringBuilder();
        const int depth = 100;
        for (var i = 0; i < depth; i++) sb.Append("{\"00081140\":{\"vr\":\"SQ\",\"Value\":[");
        sb.Append("{}");
        for (var i = 0; i < depth; i++) sb.Append("]}}");
        Assert.Contains("nested", Assert.Throws<DicomJsonException>(() => DicomJsonReader.Read(sb.ToString())).Message);
    }

    [Fact]
    public void Streams_an_array_of_datasets()
    {
        using var ms = new MemoryStream();
        DicomJsonWriter.WriteArray(ms, [Sample(), Sample()]);
        var list = DicomJsonReader.ReadArray(ms.ToArray());
        Assert.Equal(2, list.Count);
        Assert.Equal("ID 1", list[1].GetString(DicomTag.PatientID));
    }
}
