using System.Text;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Tests.Fixtures;

namespace MedfusionDicom.Cli.Tests;

/// <summary>
/// `medfusion deidentify` on a corpus seeded with identity: pydicom's files with a distinct marker in every PN, LO,
/// SH, LT, ST, UT, DA, TM, DT, AS and UI element (nested sequences included), private attributes, and files in other
/// character sets. No marker may survive in any output byte.
/// </summary>
public sealed class DeidentifyVerbTests
{
    private const string CharsetFiles = "/usr/lib/python3/dist-packages/pydicom/data/charset_files";
    private const string UidRoot = "1.2.826.0.1.3680043.10.1034.";
    private static readonly string[] Sources =
    [
        Path.Combine(CliRunner.Corpus, "MR_small.dcm"), Path.Combine(CliRunner.Corpus, "CT_small.dcm"),
        Path.Combine(CharsetFiles, "chrFren.dcm"), Path.Combine(CharsetFiles, "chrX1.dcm"), Path.Combine(CharsetFiles, "chrRuss.dcm"),
        Path.Combine(CharsetFiles, "chrSQEncoding.dcm"),
    ];

    // Coded vocabulary is kept so that codes stay valid (DicomDeidentifier): it is not seeded.
    private static readonly HashSet<DicomTag> Coded = [DicomTag.CodeValue, DicomTag.CodingSchemeDesignator, DicomTag.CodingSchemeVersion, DicomTag.CodeMeaning];

    private sealed class Markers
    {
        public List<string> Ascii { get; } = [];
        private int _next;

        public string Text(DicomVR vr, string nonAscii)
        {
            var core = $"PHI{_next++:D4}Q";
            Ascii.Add(core);
            return vr.Code is "PN" or "LO" or "LT" or "ST" or "UT" or "UC" ? core + nonAscii : core; // SH holds 16 characters, and so does the core
        }

        public string Of(DicomVR vr, string nonAscii)
        {
            var k = _next++;
            string value = vr.Code switch
            {
                "DA" => $"1887{k % 12 + 1:D2}{k % 28 + 1:D2}",
                "TM" => $"2359{k % 60:D2}.{k:D6}",
                "DT" => $"1887{k % 12 + 1:D2}{k % 28 + 1:D2}2359{k % 60:D2}.{k:D6}",
                "AS" => $"{k % 900 + 100:D3}W",
                "UI" => UidRoot + k,
                _ => "",
            };
            if (value.Length == 0) return Text(vr, nonAscii);
            Ascii.Add(vr.Code == "UI" ? UidRoot : value);
            return value;
        }
    }

    [Fact]
    public async Task No_marker_survives_UIDs_map_consistently_pixels_are_unchanged_and_dciodvfy_finds_no_new_error()
    {
        using var dir = new TempDirectory();
        var (input, markers, seeded, sharedStudy, firstSop) = await SeedCorpusAsync(dir.Path);
        var output = Path.Combine(dir.Path, "out");
        var key = Path.Combine(dir.Path, "key.bin");
        await File.WriteAllBytesAsync(key, Enumerable.Range(0, 32).Select(i => (byte)(i * 7)).ToArray());
        var map = Path.Combine(dir.Path, "map.csv");
        var run = CliRunner.Run("deidentify", input, output, "--key-file", key, "--map-out", map);
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains($"De-identified {Sources.Length} file(s)", run.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"X removed\s+\d+", run.Stdout);

        var outputs = Directory.GetFiles(output, "*.dcm", SearchOption.AllDirectories);
        Assert.Equal(Sources.Length, outputs.Length);
        var uids = File.ReadAllLines(map).Where(l => l.StartsWith("uid,", StringComparison.Ordinal)).Select(l => l.Split(',')).ToDictionary(c => c[1], c => c[2]);

        // No marker, in any file, in the encodings used (each marker's ASCII core is the same bytes in all of them).
        foreach (var path in outputs)
        {
            var bytes = await File.ReadAllBytesAsync(path);
            foreach (var marker in markers.Ascii.Distinct())
                Assert.True(bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(marker)) < 0, $"{marker} is still in {Path.GetRelativePath(output, path)}");
            Assert.DoesNotContain("JOHN SMITH", path, StringComparison.Ordinal);
        }

        var results = outputs.Select(p => (Path: p, Dataset: DicomFile.Open(p).Dataset)).ToList();
        foreach (var (path, source) in seeded)
        {
            var newSop = uids[source.GetString(DicomTag.SOPInstanceUID)];
            var (resultPath, result) = results.Single(r => r.Dataset.GetString(DicomTag.SOPInstanceUID) == newSop);
            Assert.Equal(uids[source.GetString(DicomTag.StudyInstanceUID)], result.GetString(DicomTag.StudyInstanceUID));
            Assert.Equal("YES", result.GetString(DicomTag.PatientIdentityRemoved));
            Assert.Equal("113100", result.GetSequence(DicomTag.DeidentificationMethodCodeSequence).Items[0].GetString(DicomTag.CodeValue));
            Assert.Equal(source.GetStringOrDefault(DicomTag.SOPClassUID), result.GetStringOrDefault(DicomTag.SOPClassUID)); // a registered UID is kept
            if (source.Contains(DicomTag.PixelData)) Assert.Equal(PixelBytes(source), PixelBytes(result));
            var newErrors = Dciodvfy.Run(resultPath).ErrorsNotIn(Dciodvfy.Run(path));
            Assert.True(newErrors.Count == 0, $"{Path.GetFileName(path)}: {string.Join("; ", newErrors)}");
        }

        // One study for the two linked files, and the reference points at the first file's new instance.
        var second = results.Single(r => r.Dataset.GetString(DicomTag.SOPInstanceUID) == uids[seeded[1].Dataset.GetString(DicomTag.SOPInstanceUID)]).Dataset;
        Assert.Equal(uids[sharedStudy!], second.GetString(DicomTag.StudyInstanceUID));
        Assert.Equal(uids[firstSop!], second.GetSequence(DicomTag.ReferencedImageSequence).Items[0].GetString(DicomTag.ReferencedSOPInstanceUID));

        // The same key gives the same result; a run with another key gives other UIDs.
        var again = CliRunner.Run("deidentify", input, Path.Combine(dir.Path, "again"), "--key-file", key);
        Assert.Equal(0, again.ExitCode);
        Assert.Equal(outputs.Select(p => Path.GetRelativePath(output, p)).Order(), Directory.GetFiles(Path.Combine(dir.Path, "again"), "*.dcm", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(Path.Combine(dir.Path, "again"), p)).Order());
    }

    /// <summary>
    /// Where GDCM's gdcmanon (3.0, basic profile) empties or removes an attribute and ours gives it a value: the Basic
    /// Profile code of its row in Table E.1-1, which allows what ours does.
    /// </summary>
    private static readonly Dictionary<string, (string Code, string Why)> Justified = new()
    {
        // Z: "replace with a zero length value, or a non-zero length value that may be a dummy value": the pseudonym.
        ["00100010"] = ("Z", "Patient's Name carries the pseudonym"),
        ["00100020"] = ("Z", "Patient ID carries the pseudonym"),
        // X/Z/D and X/D: where the table leaves the choice, ours takes D, valid where the attribute is Type 1.
        ["00080080"] = ("X/Z/D", "Institution Name gets a dummy value"),
        ["00081010"] = ("X/Z/D", "Station Name gets a dummy value"),
        ["00081070"] = ("X/Z/D", "Operators' Name gets a dummy value"),
        ["00181000"] = ("X/Z/D", "Device Serial Number gets a dummy value"),
        ["00181030"] = ("X/D", "Protocol Name gets a dummy value"),
        // U: replaced by a new UID, which the table says; gdcmanon empties it.
        ["00080014"] = ("U", "Instance Creator UID is replaced"),
    };

    [Fact]
    public async Task Every_attribute_that_gdcmanon_removes_or_empties_ours_removes_or_empties_too_or_a_table_row_says_why_not()
    {
        using var dir = new TempDirectory();
        var (input, _, seeded, _, _) = await SeedCorpusAsync(dir.Path);
        var certificate = Path.Combine(dir.Path, "cert.pem");
        using (var rsa = System.Security.Cryptography.RSA.Create(2048))
        {
            var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=deidentify test", rsa,
                System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
            using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            await File.WriteAllTextAsync(certificate, cert.ExportCertificatePem());
        }

        var key = Path.Combine(dir.Path, "key.bin");
        await File.WriteAllBytesAsync(key, new byte[32]);
        var mapPath = Path.Combine(dir.Path, "map.csv");
        Assert.Equal(0, CliRunner.Run("deidentify", input, Path.Combine(dir.Path, "ours"), "--key-file", key, "--map-out", mapPath).ExitCode);
        var uids = File.ReadAllLines(mapPath).Where(l => l.StartsWith("uid,", StringComparison.Ordinal)).Select(l => l.Split(',')).ToDictionary(c => c[1], c => c[2]);
        var ours = Directory.GetFiles(Path.Combine(dir.Path, "ours"), "*.dcm", SearchOption.AllDirectories).Select(p => DicomFile.Open(p).Dataset).ToList();

        var differences = new List<string>();
        var compared = 0;
        foreach (var (path, source) in seeded)
        {
            var gdcmPath = Path.Combine(dir.Path, "gdcm-" + Path.GetFileName(path).Replace(' ', '_'));
            var gdcm = Tools("gdcmanon", "-e", "-c", certificate, "-i", path, "-o", gdcmPath);
            Assert.True(gdcm.ExitCode == 0, gdcm.Stderr);
            var theirs = Flatten(DicomFile.Open(gdcmPath).Dataset);
            var mine = Flatten(ours.Single(d => d.GetString(DicomTag.SOPInstanceUID) == uids[source.GetString(DicomTag.SOPInstanceUID)]));
            foreach (var (where, value) in Flatten(source))
            {
                if (value.Length == 0 || where.StartsWith("0400", StringComparison.Ordinal)) continue;
                if (theirs.TryGetValue(where, out var t) && t.Length > 0) continue; // gdcmanon kept a value
                compared++;
                if (!mine.TryGetValue(where, out var o) || o.Length == 0) continue;
                var tag = where[^8..];
                var row = MedfusionDicom.Dicom.Deidentification.ConfidentialityProfile.Standard.Find(new DicomTag(Convert.ToUInt16(tag[..4], 16), Convert.ToUInt16(tag[4..], 16)));
                if (Justified.TryGetValue(tag, out var justified) && row?.Basic == justified.Code) continue;
                differences.Add($"{Path.GetFileName(path)} {where} ({row?.Name ?? "not in the table"}, basic {row?.Basic ?? "-"}): gdcmanon '{t}', ours '{o}'");
            }
        }

        Assert.True(compared > 100, $"only {compared} attributes compared");
        Assert.True(differences.Count == 0, string.Join("\n", differences.Distinct().Take(80)));
    }

    /// <summary>Every element at every level, by path (tags, with item numbers), with its value as text; sequences are not values.</summary>
    private static Dictionary<string, string> Flatten(DicomDataset ds, string prefix = "")
    {
        var all = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in ds)
        {
            var tag = $"{item.Tag.Group:X4}{item.Tag.Element:X4}";
            if (item is DicomSequence sequence)
            {
                for (var i = 0; i < sequence.Items.Count; i++)
                    foreach (var (k, v) in Flatten(sequence.Items[i], $"{prefix}{tag}[{i}]/")) all[k] = v;
                continue;
            }

            all[prefix + tag] = item is DicomElement { Length: 0 } ? "" : item is DicomElement e && e.ValueRepresentation.IsString ? ds.GetStringOrDefault(item.Tag).Trim() : "(binary)";
        }

        return all;
    }

    private static CliRunner.Result Tools(string tool, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit(60_000);
        return new CliRunner.Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void Clean_pixel_data_inpaints_the_boxes_and_keeps_every_other_pixel_bit_for_bit()
    {
        using var dir = new TempDirectory();
        var source = Path.Combine(CliRunner.Corpus, "MR_small.dcm");
        var key = Path.Combine(dir.Path, "key.bin");
        File.WriteAllBytes(key, new byte[16]);
        var output = Path.Combine(dir.Path, "out");

        var run = CliRunner.Run("deidentify", source, output, "--key-file", key, "--option", "clean-pixel-data", "--clean-box", "8,8,16,12", "--device", "cpu");
        Assert.True(run.ExitCode == 0, run.Stderr);
        var path = Assert.Single(Directory.GetFiles(output, "*.dcm", SearchOption.AllDirectories));
        var result = DicomFile.Open(path).Dataset;
        var before = PixelBytes(DicomFile.Open(source).Dataset);
        var after = PixelBytes(result);
        Assert.Equal(before.Length, after.Length);
        int inside = 0, changed = 0;
        for (var y = 0; y < 64; y++)
            for (var x = 0; x < 64; x++)
            {
                var i = 2 * (y * 64 + x);
                var same = before[i] == after[i] && before[i + 1] == after[i + 1];
                if (x is >= 8 and < 24 && y is >= 8 and < 20)
                {
                    inside++;
                    if (!same) changed++;
                }
                else Assert.True(same, $"pixel {x},{y} outside the box changed");
            }

        Assert.True(changed > inside / 2, $"only {changed} of the {inside} pixels in the box were filled");
        Assert.Equal("NO", result.GetString(DicomTag.BurnedInAnnotation));
        Assert.Contains("113101", result.GetSequence(DicomTag.DeidentificationMethodCodeSequence).Items.Select(i => i.GetString(DicomTag.CodeValue)));
        Assert.Empty(Dciodvfy.Run(path).ErrorsNotIn(Dciodvfy.Run(source)));

        var nothing = CliRunner.Run("deidentify", source, Path.Combine(dir.Path, "none"), "--key-file", key, "--option", "clean-pixel-data", "--device", "cpu");
        Assert.Equal(2, nothing.ExitCode);
        Assert.Contains("nothing to fill", nothing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_options_and_keys_are_refused_with_what_was_wrong()
    {
        using var dir = new TempDirectory();
        var input = Path.Combine(CliRunner.Corpus, "MR_small.dcm");
        var unknown = CliRunner.Run("deidentify", input, dir.Path, "--option", "retain-everything");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("retain-uids", unknown.Stderr, StringComparison.Ordinal);
        var shortKey = Path.Combine(dir.Path, "short.key");
        File.WriteAllBytes(shortKey, [1, 2, 3]);
        var weak = CliRunner.Run("deidentify", input, dir.Path, "--key-file", shortKey);
        Assert.Equal(2, weak.ExitCode);
        Assert.Contains("16 bytes", weak.Stderr, StringComparison.Ordinal);
        var pixels = CliRunner.Run("deidentify", input, dir.Path, "--option", "clean-pixel-data", "--inpaint-model", "cdiff-cxr-denoise", "--clean-box", "0,0,4,4");
        Assert.Equal(2, pixels.ExitCode);
        Assert.Contains("not a Med-cDiff inpainting model", pixels.Stderr, StringComparison.Ordinal);
    }

    /// <summary>The PHI-seeded corpus under ROOT/in/"Patient JOHN SMITH"; the first two files share a study and the second refers to the first.</summary>
    private static async Task<(string Input, Markers Markers, List<(string Path, DicomDataset Dataset)> Seeded, string SharedStudy, string FirstSop)> SeedCorpusAsync(string root)
    {
        var input = Directory.CreateDirectory(Path.Combine(root, "in", "Patient JOHN SMITH")).FullName; // a folder name is identity too
        var markers = new Markers();
        var seeded = new List<(string Path, DicomDataset Dataset)>();
        string? sharedStudy = null, firstSop = null;
        for (var f = 0; f < Sources.Length; f++)
        {
            var file = await DicomFile.OpenAsync(Sources[f]);
            var ds = file.Dataset;
            var nonAscii = NonAscii(ds, "");
            AddIdentity(ds, markers, nonAscii);
            Seed(ds, markers, nonAscii);
            // Links: the first two files share a study, and the second refers to the first's instance.
            if (f == 0) (sharedStudy, firstSop) = (ds.GetString(DicomTag.StudyInstanceUID), ds.GetString(DicomTag.SOPInstanceUID));
            if (f == 1)
            {
                ds.AddOrUpdate(DicomTag.StudyInstanceUID, sharedStudy!);
                ds.AddOrUpdate(DicomTag.ReferencedImageSequence, new DicomDataset()
                    .AddOrUpdate(DicomTag.ReferencedSOPClassUID, ds.GetString(DicomTag.SOPClassUID)).AddOrUpdate(DicomTag.ReferencedSOPInstanceUID, firstSop!));
            }

            var path = Path.Combine(input, $"{f} {Path.GetFileName(Sources[f])}");
            await new DicomFile(ds).SaveAsync(path, ds.InternalTransferSyntax);
            seeded.Add((path, (await DicomFile.OpenAsync(path)).Dataset));
        }

        return (input, markers, seeded, sharedStudy!, firstSop!);
    }

    /// <summary>Identity that a real study carries, added where the file lacks it: names, IDs, dates, free text, devices, nested and private.</summary>
    private static void AddIdentity(DicomDataset ds, Markers m, string nonAscii)
    {
        foreach (var tag in new[]
                 {
                     DicomTag.PatientName, DicomTag.PatientID, DicomTag.PatientBirthDate, DicomTag.PatientAge, DicomTag.OtherPatientNames,
                     DicomTag.PatientAddress, DicomTag.InstitutionName, DicomTag.InstitutionAddress, DicomTag.ReferringPhysicianName,
                     DicomTag.StudyDescription, DicomTag.SeriesDescription, DicomTag.ImageComments, DicomTag.AccessionNumber, DicomTag.StudyDate,
                     DicomTag.StudyTime, DicomTag.AcquisitionDateTime, DicomTag.DeviceSerialNumber, DicomTag.StationName, DicomTag.OperatorsName,
                     DicomTag.PatientComments, DicomTag.AdditionalPatientHistory, DicomTag.StudyID, DicomTag.ProtocolName,
                     DicomTag.SOPInstanceUID, DicomTag.StudyInstanceUID, DicomTag.SeriesInstanceUID,
                 })
            if (!ds.Contains(tag)) ds.AddOrUpdate(tag, m.Of(DicomDictionary.Default[tag].ValueRepresentation, nonAscii));

        var request = new DicomDataset();
        ds.AddOrUpdate(DicomTag.RequestAttributesSequence, request);
        request.AddOrUpdate(DicomTag.RequestedProcedureDescription, m.Of(DicomVR.LO, nonAscii));
        request.AddOrUpdate(DicomTag.ScheduledProcedureStepID, m.Of(DicomVR.SH, nonAscii));
        var referenced = new DicomDataset();
        request.AddOrUpdate(DicomTag.ReferencedStudySequence, referenced);
        referenced.AddOrUpdate(DicomTag.ReferencedSOPClassUID, "1.2.840.10008.3.1.2.3.1");
        referenced.AddOrUpdate(DicomTag.ReferencedSOPInstanceUID, m.Of(DicomVR.UI, nonAscii));
        var other = new DicomDataset();
        ds.AddOrUpdate(DicomTag.OtherPatientIDsSequence, other);
        other.AddOrUpdate(DicomTag.PatientID, m.Of(DicomVR.LO, nonAscii));
        other.AddOrUpdate(DicomTag.IssuerOfPatientID, m.Of(DicomVR.LO, nonAscii));

        var creator = new DicomTag(0x0009, 0x0010);
        ds.AddOrUpdate(DicomVR.LO, creator, "PHI TEST CREATOR");
        ds.AddOrUpdate(DicomVR.LO, new DicomTag(0x0009, 0x1001), m.Of(DicomVR.LO, nonAscii));
        ds.AddOrUpdate(DicomVR.UT, new DicomTag(0x0009, 0x1002), m.Of(DicomVR.UT, nonAscii));
        var privateItem = new DicomDataset();
        ds.AddOrUpdate(new DicomSequence(new DicomTag(0x0009, 0x1003), privateItem));
        privateItem.AddOrUpdate(DicomTag.PatientName, m.Of(DicomVR.PN, nonAscii));
    }

    /// <summary>Characters beyond ASCII that a dataset's character set (its own, else its parent's) can encode.</summary>
    private static string NonAscii(DicomDataset ds, string inherited) => ds.GetStringOrDefault(DicomTag.SpecificCharacterSet) switch
    {
        var c when c.Contains("IR 87", StringComparison.Ordinal) => "\u6a19\u8b58",
        var c when c.Contains("ISO_IR 100", StringComparison.Ordinal) => "\u00e9\u00e8",
        var c when c.Contains("ISO_IR 192", StringComparison.Ordinal) => "\u6807\u8bb0",
        var c when c.Contains("ISO_IR 144", StringComparison.Ordinal) => "\u0416\u0438",
        "" => inherited,
        _ => "",
    };

    /// <summary>A marker into every element of the VRs that can carry identity, at every level.</summary>
    private static void Seed(DicomDataset ds, Markers m, string inherited)
    {
        var nonAscii = NonAscii(ds, inherited);
        foreach (var item in ds.ToList())
        {
            if (item is DicomSequence sequence)
            {
                foreach (var child in sequence.Items) Seed(child, m, nonAscii);
                continue;
            }

            var vr = item.ValueRepresentation;
            if (item.Tag.IsPrivateCreator || Coded.Contains(item.Tag) || vr.Code is not ("PN" or "LO" or "SH" or "LT" or "ST" or "UT" or "DA" or "TM" or "DT" or "AS" or "UI")) continue;
            if (vr == DicomVR.UI && DicomUID.Lookup(ds.GetStringOrDefault(item.Tag)).Type != DicomUidType.Unknown) continue; // a SOP class, a transfer syntax: the standard's
            ds.AddOrUpdate(vr, item.Tag, m.Of(vr, nonAscii));
        }
    }

    private static byte[] PixelBytes(DicomDataset dataset)
    {
        using var copy = new MemoryStream();
        using (var read = ((DicomElement)dataset[DicomTag.PixelData]!).Buffer.OpenRead()) read.CopyTo(copy);
        return copy.ToArray();
    }

    private sealed class TempDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("deidentify-").FullName;
        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
