using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.IO;

namespace MedfusionDicom.Dicom.Tests;

public class ReadWriteTests
{
    internal static DicomDataset Sample()
    {
        var ds = new DicomDataset()
            .AddOrUpdate(DicomTag.SpecificCharacterSet, "ISO_IR 100")
            .AddOrUpdate(DicomTag.SOPClassUID, "1.2.840.10008.5.1.4.1.1.7")
            .AddOrUpdate(DicomTag.SOPInstanceUID, DicomUID.Generate().UID)
            .AddOrUpdate(DicomTag.PatientName, "Müller^Jürgen")
            .AddOrUpdate(DicomTag.Rows, (ushort)2)
            .AddOrUpdate(DicomTag.Columns, (ushort)3)
            .AddOrUpdate(DicomTag.PixelSpacing, 0.5, 0.25)
            .AddOrUpdate(DicomTag.FrameIncrementPointer, DicomTag.FrameTime)
            .AddOrUpdate(DicomTag.RealWorldValueLastValueMapped, (ushort)4095)
            .AddOrUpdate(DicomVR.FD, new DicomTag(0x0019, 0x1002), 1.5, -2.25)
            .AddOrUpdate(DicomVR.UT, DicomTag.TextValue, "a long text\r\nwith lines")
            .AddOrUpdate(DicomVR.SV, DicomTag.SelectorSVValue, long.MinValue, 42L)
            .AddOrUpdate(DicomVR.UV, DicomTag.SelectorUVValue, ulong.MaxValue);
        ds.AddOrUpdate(DicomTag.ReferencedImageSequence,
            new DicomDataset().AddOrUpdate(DicomTag.ReferencedSOPInstanceUID, "1.2.3")
                .AddOrUpdate(DicomTag.PurposeOfReferenceCodeSequence, new DicomDataset().AddOrUpdate(DicomTag.CodeValue, "121322")),
            new DicomDataset());
        ds.AddOrUpdate(new DicomElement(DicomTag.PixelData, DicomVR.OW, new byte[] { 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 0xFF, 0x7F }));
        return ds;
    }

    public static TheoryData<string> Syntaxes => new(DicomTransferSyntax.Uncompressed.Select(t => t.UID.UID));

    [Theory]
    [MemberData(nameof(Syntaxes))]
    public void Every_uncompressed_syntax_round_trips_values_and_sequences(string syntaxUid)
    {
        var syntax = DicomTransferSyntax.Parse(syntaxUid);
        var original = Sample();
        var ms = new MemoryStream();
        new DicomFile(original).Save(ms, syntax);
        var back = DicomFile.Open(ms.ToArray());
        Assert.Equal(syntax, back.TransferSyntax);
        Assert.Equal(syntaxUid, back.FileMetaInfo.GetString(DicomTag.TransferSyntaxUID));
        AssertSameDataset(original, back.Dataset);
        Assert.Equal("Müller^Jürgen", back.Dataset.GetString(DicomTag.PatientName));
        Assert.Equal(ulong.MaxValue, back.Dataset.GetSingleValue<ulong>(DicomTag.SelectorUVValue));
        Assert.Equal([1, 2, 3, 4, 5, 0x7FFF], back.Dataset.GetValues<ushort>(DicomTag.PixelData).Select(v => (int)v));
    }

    [Fact]
    public void Meta_group_carries_length_and_our_implementation()
    {
        var ms = new MemoryStream();
        var file = new DicomFile(Sample());
        file.Save(ms);
        var bytes = ms.ToArray();
        Assert.Equal("DICM", System.Text.Encoding.ASCII.GetString(bytes, 128, 4));
        var back = DicomFile.Open(bytes);
        var groupLength = back.FileMetaInfo.GetSingleValue<uint>(DicomTag.FileMetaInformationGroupLength);
        var datasetStart = 132 + 12 + groupLength;
        Assert.Equal(0x08, bytes[datasetStart]); // the dataset starts right after the group, at (0008,0005)
        Assert.Equal(DicomUID.ImplementationClassUidValue, back.FileMetaInfo.GetString(DicomTag.ImplementationClassUID));
        Assert.Equal(file.Dataset.GetString(DicomTag.SOPInstanceUID), back.FileMetaInfo.GetString(DicomTag.MediaStorageSOPInstanceUID));
    }

    [Fact]
    public void Big_endian_swaps_binary_values_only()
    {
        var ds = new DicomDataset().AddOrUpdate(DicomTag.Rows, (ushort)0x0102).AddOrUpdate(DicomTag.PatientID, "AB");
        var bytes = DicomWriter.Encode(ds, DicomTransferSyntax.ExplicitVRBigEndian);
        // (0010,0020) LO "AB" then (0028,0010) US 0x0102: tags and numbers big-endian, text unchanged.
        Assert.Equal(new byte[] { 0x00, 0x10, 0x00, 0x20, (byte)'L', (byte)'O', 0x00, 0x02, (byte)'A', (byte)'B',
            0x00, 0x28, 0x00, 0x10, (byte)'U', (byte)'S', 0x00, 0x02, 0x01, 0x02 }, bytes);
        Assert.Equal(0x0102, DicomReader.ReadDataset(bytes, DicomTransferSyntax.ExplicitVRBigEndian).GetSingleValue<int>(DicomTag.Rows));
    }

    [Fact]
    public void Raw_datasets_without_meta_are_read_by_inference()
    {
        var ds = Sample();
        foreach (var syntax in new[] { DicomTransferSyntax.ImplicitVRLittleEndian, DicomTransferSyntax.ExplicitVRLittleEndian, DicomTransferSyntax.ExplicitVRBigEndian })
        {
            var back = DicomFile.Open(DicomWriter.Encode(ds, syntax));
            Assert.Equal(syntax, back.TransferSyntax);
            AssertSameDataset(ds, back.Dataset);
        }
    }

    [Fact]
    public void Large_values_of_files_stay_on_disk_until_read()
    {
        var ds = Sample();
        var pixels = new byte[1 << 20];
        new Random(1).NextBytes(pixels);
        ds.AddOrUpdate(new DicomElement(DicomTag.PixelData, DicomVR.OW, pixels));
        var path = Path.Combine(Path.GetTempPath(), $"lazy-{Guid.NewGuid():N}.dcm");
        try
        {
            new DicomFile(ds).Save(path);
            var file = DicomFile.Open(path, new DicomReaderOptions { InMemoryFileLimit = 0 });
            var element = file.Dataset.GetElement(DicomTag.PixelData);
            Assert.IsType<FileByteBuffer>(element.Buffer);
            Assert.Equal(pixels, element.Buffer.Memory.ToArray());
            var copy = new MemoryStream();
            new DicomFile(file.Dataset).Save(copy);
            Assert.Equal(pixels, DicomFile.Open(copy.ToArray()).Dataset.GetElement(DicomTag.PixelData).Buffer.Memory.ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Encapsulated_pixel_data_keeps_offset_table_and_fragments()
    {
        var ds = Sample();
        ds.Remove(DicomTag.PixelData);
        ds.AddOrUpdate(new DicomFragmentSequence(DicomTag.PixelData, DicomVR.OB, new MemoryByteBuffer(new byte[] { 0, 0, 0, 0, 12, 0, 0, 0 }),
            [new MemoryByteBuffer(new byte[] { 0xFF, 0xD8, 1, 2 }), new MemoryByteBuffer(new byte[] { 0xFF, 0xD8, 3, 0xFF, 0xD9 })]));
        ds.InternalTransferSyntax = DicomTransferSyntax.JPEGBaseline8Bit;
        var ms = new MemoryStream();
        new DicomFile(ds).Save(ms);
        var back = DicomFile.Open(ms.ToArray());
        var frags = Assert.IsType<DicomFragmentSequence>(back.Dataset[DicomTag.PixelData]);
        Assert.Equal([0u, 12u], frags.Offsets);
        Assert.Equal(2, frags.Fragments.Count);
        Assert.Equal(new byte[] { 0xFF, 0xD8, 3, 0xFF, 0xD9, 0 }, frags.Fragments[1].Memory.ToArray()); // padded to even
        Assert.ThrowsAny<DicomException>(() => back.Save(new MemoryStream(), DicomTransferSyntax.ExplicitVRLittleEndian)); // no codec for it
    }

    [Fact]
    public void Saving_to_a_path_is_atomic_and_leaves_no_temporary_file()
    {
        var dir = Directory.CreateTempSubdirectory("save-").FullName;
        try
        {
            var path = Path.Combine(dir, "x.dcm");
            new DicomFile(Sample()).Save(path);
            Assert.Equal(["x.dcm"], Directory.GetFiles(dir).Select(Path.GetFileName));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Bad_input_names_offset_and_tag()
    {
        var bytes = DicomWriter.Encode(Sample(), DicomTransferSyntax.ExplicitVRLittleEndian);
        var truncated = bytes[..(bytes.Length - 5)];
        var ex = Assert.Throws<DicomReaderException>(() => DicomReader.ReadDataset(truncated, DicomTransferSyntax.ExplicitVRLittleEndian));
        Assert.Equal(DicomTag.PixelData, ex.Tag);
        Assert.Contains("PixelData", ex.Message);
        Assert.Contains("byte offset", ex.Message);

        var bogusVr = (byte[])bytes.Clone();
        var pn = bytes.AsSpan().IndexOf(new byte[] { 0x10, 0x00, 0x10, 0x00, (byte)'P', (byte)'N' });
        bogusVr[pn + 4] = (byte)'Z';
        var vrEx = Assert.Throws<DicomReaderException>(() => DicomReader.ReadDataset(bogusVr, DicomTransferSyntax.ExplicitVRLittleEndian));
        Assert.Contains("invalid VR 'ZN'", vrEx.Message);
        Assert.Equal(pn, vrEx.Offset);
        Assert.Equal(DicomTag.PatientName, vrEx.Tag);

        var huge = new byte[] { 0x10, 0x00, 0x10, 0x00, 0xFF, 0xFF, 0xFF, 0x7F };
        var lenEx = Assert.Throws<DicomReaderException>(() => DicomReader.ReadDataset(huge, DicomTransferSyntax.ImplicitVRLittleEndian));
        Assert.Contains("exceeds", lenEx.Message);

        Assert.Throws<DicomException>(() => DicomFile.Open("/nonexistent/file.dcm"));
    }

    internal static void AssertSameDataset(DicomDataset expected, DicomDataset actual, string path = "")
    {
        var exp = expected.Where(i => !DicomWriter.IsDroppedGroupLength(i.Tag)).ToList();
        var act = actual.Where(i => !DicomWriter.IsDroppedGroupLength(i.Tag)).ToList();
        Assert.Equal(exp.Select(i => i.Tag), act.Select(i => i.Tag));
        for (var i = 0; i < exp.Count; i++)
        {
            var where = $"{path}{exp[i].Tag}";
            // Implicit VR carries no VR: private elements come back as UN, their bytes unchanged.
            var implicitPrivate = exp[i].Tag.IsPrivate && act[i].ValueRepresentation == DicomVR.UN;
            Assert.True(implicitPrivate || exp[i].ValueRepresentation == act[i].ValueRepresentation, $"{where}: VR {exp[i].ValueRepresentation} != {act[i].ValueRepresentation}");
            switch (exp[i])
            {
                case DicomElement e:
                    var a = Assert.IsType<DicomElement>(act[i]);
                    var eb = e.Buffer.Memory.ToArray();
                    if (eb.Length % 2 == 1) eb = [.. eb, e.ValueRepresentation.PaddingByte];
                    Assert.True(eb.AsSpan().SequenceEqual(a.Buffer.Memory.Span), $"{where}: value bytes differ");
                    break;
                case DicomSequence s:
                    var sa = Assert.IsType<DicomSequence>(act[i]);
                    Assert.Equal(s.Items.Count, sa.Items.Count);
                    for (var k = 0; k < s.Items.Count; k++) AssertSameDataset(s.Items[k], sa.Items[k], $"{where}[{k}].");
                    break;
            }
        }
    }
}
