using System.Text.Json;
using MedfusionDicom.Dicom.Json;
using MedfusionDicom.Dicom.Text;

namespace MedfusionDicom.Dicom.Tests;

/// <summary>
/// Specific Character Set conformance on pydicom's charset_files: decoding agrees with dcm2json where DCMTK can convert
/// (it cannot do ISO 2022 IR 87 with glibc iconv) and with pydicom (Python's codecs) for every file; encoding gives
/// back the files' own bytes.
/// </summary>
public class ConformanceCharsetTests
{
    private static readonly string CharsetDir = Path.Combine(ConformanceCorpus.DataRoot, "charset_files");
    private static readonly HashSet<string> CharsetDependent = ["PN", "SH", "LO", "ST", "LT", "UT", "UC"];

    // Walks the same elements as Walk below; values as text, PN as "A=I=P". Private data elements are left out:
    // pydicom gives them VRs from its private dictionary, where we keep them as UN bytes.
    private const string PydicomOracle = """
        import pydicom, json, os, sys
        def walk(ds, prefix, res):
            for el in ds:
                if el.VR == 'SQ':
                    for i, it in enumerate(el.value): walk(it, f"{prefix}{el.tag:08X}[{i}].", res)
                elif el.VR in ('PN','SH','LO','ST','LT','UT','UC') and el.value not in (None, '') and not (el.tag.is_private and el.tag.element >= 0x100):
                    v = el.value
                    vals = list(v) if isinstance(v, pydicom.multival.MultiValue) else [v]
                    res[f"{prefix}{el.tag:08X}"] = [str(x) for x in vals]
        out = {}
        for f in sys.argv[1:]:
            ds = pydicom.dcmread(f); ds.decode(); res = {}; walk(ds, "", res); out[os.path.basename(f)] = res
        print(json.dumps(out, ensure_ascii=False))
        """;

    private static string[] CharsetFiles()
    {
        Assert.True(Directory.Exists(CharsetDir), $"{CharsetDir} is missing (python3-pydicom; run scripts/bootstrap)");
        var files = Directory.GetFiles(CharsetDir, "*.dcm").Order(StringComparer.Ordinal).ToArray();
        Assert.True(files.Length >= 17, $"expected pydicom's 17 charset files, found {files.Length}");
        return files;
    }

    [Fact]
    public void Charset_files_decode_as_pydicom_does()
    {
        var files = CharsetFiles();
        // Debian's interpreter: python3-pydicom is installed for it, not for any other python3 on PATH.
        var (rc, stdout, stderr) = Tool.Run("/usr/bin/python3", ["-c", PydicomOracle, .. files]);
        Assert.True(rc == 0, "pydicom oracle failed: " + stderr);
        using var oracle = JsonDocument.Parse(stdout);
        var failures = new List<string>();
        foreach (var path in files)
        {
            var expected = oracle.RootElement.GetProperty(Path.GetFileName(path)).EnumerateObject()
                .ToDictionary(p => p.Name, p => string.Join(" | ", p.Value.EnumerateArray().Select(v => v.GetString())));
            var actual = new Dictionary<string, string>();
            Walk(DicomFile.Open(path).Dataset, "", actual);
            foreach (var key in expected.Keys.Union(actual.Keys).Order(StringComparer.Ordinal))
            {
                expected.TryGetValue(key, out var e);
                actual.TryGetValue(key, out var a);
                if (e != a) failures.Add($"{Path.GetFileName(path)} {key}: ours '{a}', pydicom '{e}'");
            }
        }
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    private static void Walk(DicomDataset ds, string prefix, Dictionary<string, string> result)
    {
        foreach (var item in ds)
        {
            var key = prefix + item.Tag.Value.ToString("X8");
            if (item is DicomSequence)
            {
                var sq = ds.GetSequence(item.Tag); // sets the items' parent, so they inherit the character set
                for (var i = 0; i < sq.Items.Count; i++) Walk(sq.Items[i], $"{key}[{i}].", result);
            }
            else if (item is DicomElement e && CharsetDependent.Contains(e.ValueRepresentation.Code) && ds.GetString(e.Tag).Length > 0
                     && !(e.Tag.IsPrivate && !e.Tag.IsPrivateCreator))
            {
                // pydicom drops empty trailing component groups of a name ("A=I=" is "A=I"); the rest is compared as is.
                var values = ds.GetValues<string>(e.Tag).Select(v => e.ValueRepresentation == DicomVR.PN ? v.TrimEnd('=') : v);
                result[key] = string.Join(" | ", values);
            }
        }
    }

    [Fact]
    public void Charset_files_dcmtk_converts_decode_as_dcm2json_does()
    {
        var converted = new[] { "chrArab", "chrFren", "chrFrenMulti", "chrGerm", "chrGreek", "chrHbrw", "chrI2", "chrKoreanMulti", "chrRuss", "chrX1", "chrX2" };
        var failures = new List<string>();
        foreach (var name in converted)
        {
            var entry = Assert.Single(ConformanceCorpus.Files, e => e.Path == Path.Combine(CharsetDir, name + ".dcm"));
            Assert.True(entry.Dcm2Json is not null && entry.Stripped.Count == 0, $"{name}: dcm2json did not convert it: {entry.Dcm2JsonError}");
            var diffs = JsonComparison.Compare(entry.Dcm2Json!, DicomJsonWriter.ToJson(DicomFile.Open(entry.Path).Dataset), []);
            failures.AddRange(diffs.Select(d => $"{name}: {d}"));
        }
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public void Encoding_the_decoded_text_gives_back_the_files_bytes()
    {
        var failures = new List<string>();
        var checkedValues = 0;
        foreach (var path in CharsetFiles())
        {
            var ds = DicomFile.Open(path).Dataset;
            var cs = ds.CharacterSet;
            foreach (var e in ds.OfType<DicomElement>().Where(e => CharsetDependent.Contains(e.ValueRepresentation.Code)))
            {
                var original = e.Buffer.Memory.ToArray();
                var text = ds.GetString(e.Tag);
                var encoded = cs.Encode(text, e.ValueRepresentation);
                checkedValues++;
                if (Normalized(original) != Normalized(encoded))
                    failures.Add($"{Path.GetFileName(path)} {e.Tag} '{text}': file {Convert.ToHexString(original)}, ours {Convert.ToHexString(encoded)}");
            }
        }
        Assert.True(checkedValues > 50, $"only {checkedValues} values checked");
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    /// <summary>
    /// Hex of the value without trailing padding and without ESC ( B that designates ASCII when G0 already is ASCII
    /// (some writers, like chrKoreanMulti's, add it around G1-only text; it changes nothing).
    /// </summary>
    private static string Normalized(byte[] b)
    {
        var n = b.Length;
        while (n > 0 && b[n - 1] is (byte)' ' or 0) n--;
        var output = new List<byte>();
        var g0TwoByte = false;
        for (var i = 0; i < n; i++)
        {
            if (b[i] == 0x1B && i + 2 < n && b[i + 1] == 0x28 && b[i + 2] == 0x42)
            {
                if (g0TwoByte) output.AddRange(b.AsSpan(i, 3));
                g0TwoByte = false;
                i += 2;
                continue;
            }
            if (b[i] == 0x1B && i + 2 < n && b[i + 1] == 0x24 && b[i + 2] is 0x42 or 0x28) g0TwoByte = true;
            output.Add(b[i]);
        }
        return Convert.ToHexString(output.ToArray());
    }

    [Theory]
    [InlineData("ISO_IR 100", "Buc^Jérôme")]
    [InlineData("ISO_IR 101", "Wałęsa^Lech")]
    [InlineData("ISO_IR 144", "Люкceмбypг")]
    [InlineData("ISO_IR 126", "Διονυσιος")]
    [InlineData("ISO_IR 127", "قباني^لنزار")]
    [InlineData("ISO_IR 138", "שרון^דבורה")]
    [InlineData("ISO_IR 192", "Wang^XiaoDong=王^小東")]
    [InlineData("GB18030", "Wang^XiaoDong=王^小东")]
    [InlineData("GBK", "Wang^XiaoDong=王^小东")]
    [InlineData("\\ISO 2022 IR 87", "Yamada^Tarou=山田^太郎=やまだ^たろう")]
    [InlineData("ISO 2022 IR 13\\ISO 2022 IR 87", "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう")]
    [InlineData("\\ISO 2022 IR 149", "Hong^Gildong=洪^吉洞=홍^길동")]
    [InlineData("ISO 2022 IR 6\\ISO 2022 IR 100", "Buc^Jérôme")]
    public void A_name_set_in_a_character_set_reads_back_after_writing(string charset, string name)
    {
        var ds = new DicomDataset();
        ds.AddOrUpdate(DicomTag.SpecificCharacterSet, charset.Split('\\'));
        ds.AddOrUpdate(DicomTag.PatientName, name);
        ds.AddOrUpdate(DicomTag.InstitutionName, name.Replace('^', ' ').Replace('=', ' '));
        using var ms = new MemoryStream();
        new DicomFile(ds).Save(ms, DicomTransferSyntax.ExplicitVRLittleEndian);
        var back = DicomFile.Open(ms.ToArray()).Dataset;
        Assert.Equal(name, back.GetString(DicomTag.PatientName));
        Assert.Equal(name.Replace('^', ' ').Replace('=', ' '), back.GetString(DicomTag.InstitutionName));
        Assert.Equal(name, back.GetSingleValue<DicomPersonName>(DicomTag.PatientName).ToString());
    }

    [Fact]
    public void Text_outside_the_declared_sets_is_refused()
    {
        var ds = new DicomDataset();
        ds.AddOrUpdate(DicomTag.SpecificCharacterSet, "ISO_IR 100");
        Assert.Throws<DicomValueException>(() => ds.AddOrUpdate(DicomTag.PatientName, "山田"));
        var jis = new DicomCharacterSet(["", "ISO 2022 IR 87"]);
        Assert.Throws<DicomValueException>(() => jis.Encode("홍길동", DicomVR.PN));
    }

    [Fact]
    public void Iso2022_returns_to_ascii_before_delimiters_and_at_the_end()
    {
        // PS3.5 H.3.1 example: each run of kanji is framed by ESC $ B ... ESC ( B.
        var jis = new DicomCharacterSet(["", "ISO 2022 IR 87"]);
        var bytes = jis.Encode("山田^太郎", DicomVR.PN);
        Assert.Equal("1B24423B334544" + "1B2842" + "5E" + "1B244242404F3A" + "1B2842", Convert.ToHexString(bytes));
        Assert.Equal("山田^太郎", jis.Decode(bytes, DicomVR.PN));
    }
}
