using System.Buffers.Binary;
using System.Diagnostics;
using MedfusionDicom.Dicom.IO;
using MedfusionDicom.Dicom.Json;

namespace MedfusionDicom.Dicom.Tests;

/// <summary>
/// The reader on hostile input: every read either succeeds or raises a <see cref="DicomException"/>, promptly and
/// without huge allocations. Mutations of real corpus files, then hand-made bad inputs.
/// </summary>
public class FuzzReaderTests
{
    private static readonly string[] Seeds =
    [
        "test_files/MR_small.dcm", "test_files/MR_small_implicit.dcm", "test_files/MR_small_bigendian.dcm", "test_files/image_dfl.dcm",
        "test_files/nested_priv_SQ.dcm", "test_files/UN_sequence.dcm", "test_files/JPEG2000.dcm", "test_files/rtplan.dcm",
        "test_files/dicomdirtests/DICOMDIR", "test_files/ExplVR_BigEndNoMeta.dcm", "test_files/no_meta_group_length.dcm", "charset_files/chrH32.dcm",
    ];

    private static readonly TimeSpan PerCase = TimeSpan.FromSeconds(5);

    [Fact]
    public void Mutated_corpus_files_read_or_raise_DicomException()
    {
        var seeds = Seeds.Select(s => File.ReadAllBytes(Path.Combine(ConformanceCorpus.DataRoot, s))).ToArray();
        var random = new Random(20240611);
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        int cases = 0, accepted = 0;
        const int maxCases = 5000;
        // Bounded by count and by time: on a loaded 2-core machine fewer cases run, but never fewer than asserted below.
        while (cases < maxCases && clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            var seedIndex = random.Next(seeds.Length);
            var (input, what) = Mutate(seeds[seedIndex], random);
            var viaStream = random.Next(4) == 0; // a quarter through a non-seekable stream: the other input path
            cases++;
            var outcome = RunCase(input, viaStream);
            if (outcome is null) accepted++;
            else if (outcome != "DicomException") failures.Add($"case {cases} ({Seeds[seedIndex]}, {what}{(viaStream ? ", stream" : "")}): {outcome}");
            if (failures.Count >= 20 || outcome == "hang") break;
        }
        Assert.True(failures.Count == 0, $"{failures.Count} failures in {cases} cases:\n" + string.Join('\n', failures));
        Assert.True(cases >= 1000, $"only {cases} cases ran in the time bound");
        // Some mutations must still parse, or the mutator only ever produced garbage and tested one error path.
        Assert.True(accepted > cases / 20, $"only {accepted} of {cases} mutated inputs were readable");
    }

    /// <summary>Null when the input was read (and its JSON written), "DicomException" when refused properly, else what went wrong.</summary>
    private static string? RunCase(byte[] input, bool viaStream)
    {
        var task = Task.Run(() =>
        {
            try
            {
                var file = viaStream ? DicomFile.Open(NonSeekable(input)) : DicomFile.Open(input);
                // Decoding every value exercises the value codec and character sets on the damaged data too.
                DicomJsonWriter.ToJson(file.Dataset);
                DicomDump.Format(file);
                return null;
            }
            catch (DicomException)
            {
                return "DicomException";
            }
            catch (Exception ex)
            {
                return $"{ex.GetType().Name}: {ex.Message}\n{ex.StackTrace?.Split('\n').FirstOrDefault()}";
            }
        });
        return task.Wait(PerCase) ? task.Result : "hang";
    }

    private static (byte[], string) Mutate(byte[] seed, Random r)
    {
        var data = (byte[])seed.Clone();
        switch (r.Next(7))
        {
            case 0:
            {
                var n = r.Next(1, 9);
                for (var i = 0; i < n; i++)
                {
                    var at = r.Next(data.Length);
                    data[at] ^= (byte)(1 << r.Next(8));
                }
                return (data, $"{n} bit flips");
            }
            case 1:
            {
                var at = r.Next(data.Length);
                data[at] = (byte)r.Next(256);
                return (data, $"byte {at} set");
            }
            case 2:
            {
                var length = r.Next(data.Length);
                return (data[..length], $"truncated to {length}");
            }
            case 3:
            {
                // A 32- or 16-bit length field: aim at 4-byte aligned spots after a VR-looking pair or anywhere.
                var at = r.Next(data.Length - 4);
                var value = r.Next(4) switch { 0 => 0xFFFFFFFFu, 1 => 0x7FFFFFF0u, 2 => (uint)r.Next(), _ => (uint)r.Next(1 << 16) };
                BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(at), value);
                return (data, $"uint32 {value:X8} at {at}");
            }
            case 4:
            {
                var at = r.Next(data.Length);
                var extra = new byte[r.Next(1, 16)];
                r.NextBytes(extra);
                return ([.. data[..at], .. extra, .. data[at..]], $"{extra.Length} bytes inserted at {at}");
            }
            case 5:
            {
                // An item or delimiter tag dropped in: the sequence machinery's inputs.
                var at = r.Next(data.Length - 8);
                var tag = r.Next(3) switch { 0 => 0xE000FFFEu, 1 => 0xE00DFFFEu, _ => 0xE0DDFFFEu };
                BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(at), tag);
                BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(at + 4), r.Next(2) == 0 ? 0xFFFFFFFFu : (uint)r.Next(64));
                return (data, $"item tag {tag:X8} at {at}");
            }
            default:
            {
                var at = r.Next(data.Length);
                var length = Math.Min(r.Next(1, 64), data.Length - at);
                return ([.. data[..at], .. data[(at + length)..]], $"{length} bytes removed at {at}");
            }
        }
    }

    // ---- specific bad inputs ----

    private static byte[] Element(ushort group, ushort element, string vr, byte[] value, uint? lengthOverride = null)
    {
        var longHeader = DicomVR.Parse(vr).HasLongExplicitHeader;
        var header = new byte[longHeader ? 12 : 8];
        BinaryPrimitives.WriteUInt16LittleEndian(header, group);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(2), element);
        header[4] = (byte)vr[0];
        header[5] = (byte)vr[1];
        if (longHeader) BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), lengthOverride ?? (uint)value.Length);
        else BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(6), (ushort)(lengthOverride ?? (uint)value.Length));
        return [.. header, .. value];
    }

    private static byte[] ItemTag(uint tag, uint length)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(b, tag);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), length);
        return b;
    }

    private static DicomReaderException ReadBad(byte[] dataset, bool viaStream = false)
    {
        DicomReaderException? caught = null;
        var task = Task.Run(() =>
        {
            caught = Assert.Throws<DicomReaderException>(() => viaStream
                ? DicomReader.ReadDataset(NonSeekable(dataset), DicomTransferSyntax.ExplicitVRLittleEndian)
                : DicomReader.ReadDataset(dataset, DicomTransferSyntax.ExplicitVRLittleEndian));
        });
        Assert.True(task.Wait(PerCase), "the reader did not finish");
        task.GetAwaiter().GetResult();
        return caught!;
    }

    private static readonly byte[] PatientId = Element(0x0010, 0x0020, "LO", "ID12"u8.ToArray());

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_length_beyond_the_end_is_an_error_naming_offset_and_tag(bool viaStream)
    {
        // 2 GB claimed, 4 bytes present: must not allocate 2 GB first.
        var input = (byte[])[.. PatientId, .. Element(0x0011, 0x1010, "OB", [1, 2, 3, 4], lengthOverride: 0x7FFFFFF0)];
        var before = GC.GetTotalAllocatedBytes(precise: true); // the read runs on a pool thread
        var ex = ReadBad(input, viaStream);
        Assert.Equal(new DicomTag(0x0011, 0x1010), ex.Tag);
        Assert.Equal(PatientId.Length, ex.Offset);
        Assert.Contains($"byte offset {PatientId.Length}", ex.Message);
        Assert.Contains("(0011,1010)", ex.Message);
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 64 * 1024 * 1024, "the claimed length was allocated");
    }

    [Fact]
    public void A_bogus_VR_is_an_error()
    {
        var input = (byte[])[.. PatientId, .. Element(0x0010, 0x0030, "DA", "20240101"u8.ToArray())];
        input[PatientId.Length + 4] = (byte)'Q';
        input[PatientId.Length + 5] = (byte)'Q';
        var ex = ReadBad(input);
        Assert.Contains("invalid VR 'QQ'", ex.Message);
        Assert.Equal(DicomTag.PatientBirthDate, ex.Tag);
    }

    [Fact]
    public void A_truncated_file_is_an_error()
    {
        var path = Path.Combine(ConformanceCorpus.DataRoot, "test_files/MR_small.dcm");
        var bytes = File.ReadAllBytes(path);
        foreach (var cut in new[] { 140, 500, 1000, bytes.Length - 1 })
        {
            var ex = Assert.Throws<DicomReaderException>(() => DicomFile.Open(bytes[..cut]));
            Assert.True(ex.Offset <= cut, $"offset {ex.Offset} past the end {cut}");
            Assert.NotNull(ex.Tag);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_undefined_length_sequence_without_delimiter_ends_in_an_error(bool viaStream)
    {
        var input = (byte[])[.. Element(0x0008, 0x1140, "SQ", [], lengthOverride: 0xFFFFFFFF), .. ItemTag(0xE000FFFE, 0xFFFFFFFF), .. PatientId];
        var ex = ReadBad(input, viaStream);
        Assert.NotNull(ex.Tag);
    }

    [Fact]
    public void Undefined_length_items_repeating_forever_are_bounded_by_the_input()
    {
        // Thousands of empty undefined-length items and no sequence delimiter: finite input, so the reader must stop.
        var items = Enumerable.Repeat((byte[])[.. ItemTag(0xE000FFFE, 0xFFFFFFFF), .. ItemTag(0xE00DFFFE, 0)], 10_000).SelectMany(b => b);
        var input = (byte[])[.. Element(0x0008, 0x1140, "SQ", [], lengthOverride: 0xFFFFFFFF), .. items];
        Assert.Contains("sequence", ReadBad(input).Message);
    }

    [Fact]
    public void Deep_nesting_is_refused_before_the_stack_runs_out()
    {
        var open = (byte[])[.. Element(0x0008, 0x1140, "SQ", [], lengthOverride: 0xFFFFFFFF), .. ItemTag(0xE000FFFE, 0xFFFFFFFF)];
        var input = Enumerable.Repeat(open, 100_000).SelectMany(b => b).ToArray();
        var ex = ReadBad(input);
        Assert.Contains("nested", ex.Message);
    }

    [Fact]
    public void Encapsulated_pixel_data_without_delimiter_is_an_error()
    {
        var input = (byte[])[.. PatientId, .. Element(0x7FE0, 0x0010, "OB", [], lengthOverride: 0xFFFFFFFF), .. ItemTag(0xE000FFFE, 0), .. ItemTag(0xE000FFFE, 4), 1, 2, 3, 4];
        Assert.Equal(DicomTag.PixelData, ReadBad(input).Tag);
    }

    /// <summary>A stream that cannot seek and does not know its length, as a network peer's data arrives.</summary>
    private static Stream NonSeekable(byte[] data) => System.IO.Pipelines.PipeReader.Create(new MemoryStream(data)).AsStream();
}
