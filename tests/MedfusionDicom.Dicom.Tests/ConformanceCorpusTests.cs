using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using MedfusionDicom.Dicom.IO;
using MedfusionDicom.Dicom.Json;

namespace MedfusionDicom.Dicom.Tests;

/// <summary>
/// pydicom's test corpus (Debian python3-pydicom, installed by scripts/bootstrap) and what DCMTK says about each file,
/// gathered once per test run: dcmdump's verdict and dcm2json's output. Missing tools or corpus fail the tests.
/// </summary>
public static class ConformanceCorpus
{
    public const string DataRoot = "/usr/lib/python3/dist-packages/pydicom/data";

    /// <param name="Stripped">
    /// Elements removed (with dcmodify, on a copy) before dcm2json could convert the file: it refuses compressed pixel
    /// data, and with glibc's iconv it cannot convert ISO 2022 IR 87, so Specific Character Set is dropped and the
    /// charset-dependent values are not compared here (ConformanceCharsetTests checks them against pydicom).
    /// </param>
    public sealed record Entry(string Path, bool DcmtkReads, string? Dcm2Json, string Dcm2JsonError, IReadOnlyList<DicomTag> Stripped)
    {
        public string Name => System.IO.Path.GetRelativePath(DataRoot, Path);
        public override string ToString() => Name;
    }

    private static readonly Lazy<IReadOnlyList<Entry>> Lazy = new(Gather);

    public static IReadOnlyList<Entry> Files => Lazy.Value;
    public static IEnumerable<Entry> Readable => Files.Where(f => f.DcmtkReads);
    public static IEnumerable<Entry> Rejected => Files.Where(f => !f.DcmtkReads);

    private static IReadOnlyList<Entry> Gather()
    {
        var dirs = new[] { System.IO.Path.Combine(DataRoot, "test_files"), System.IO.Path.Combine(DataRoot, "charset_files") };
        foreach (var d in dirs)
            Assert.True(Directory.Exists(d), $"{d} is missing: the conformance corpus comes from python3-pydicom (run scripts/bootstrap)");
        var paths = dirs.SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories)).Order(StringComparer.Ordinal).ToList();
        var entries = new ConcurrentBag<Entry>();
        // Two process launches at a time: the work is mostly waiting for dcmtk to start.
        Parallel.ForEach(paths, new ParallelOptions { MaxDegreeOfParallelism = 2 }, path =>
        {
            var (dumpRc, _, _) = Tool.Run("dcmdump", "-q", path);
            string? json = null;
            var error = "";
            var stripped = new List<DicomTag>();
            if (dumpRc == 0)
            {
                var (rc, stdout, stderr) = Tool.Run("dcm2json", "-fc", path);
                if (rc != 0) (rc, stdout, stderr) = Dcm2JsonOnStrippedCopy(path, stderr, stripped);
                if (rc == 0) json = stdout;
                else error = stderr.Trim();
            }
            entries.Add(new Entry(path, dumpRc == 0, json, error, stripped));
        });
        var list = entries.OrderBy(e => e.Path, StringComparer.Ordinal).ToList();
        Assert.True(list.Count(e => e.DcmtkReads) > 100, $"only {list.Count(e => e.DcmtkReads)} corpus files are readable by dcmdump; is dcmtk installed?");
        return list;
    }

    /// <summary>Retries dcm2json on a copy without what it refused, one refusal at a time (a file can have both).</summary>
    private static (int, string, string) Dcm2JsonOnStrippedCopy(string path, string error, List<DicomTag> stripped)
    {
        var copy = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "medfusion-corpus-" + Guid.NewGuid().ToString("N"));
        try
        {
            File.Copy(path, copy);
            for (var round = 0; round < 2; round++)
            {
                var args = new List<string> { "-nb", "-q" };
                if (error.Contains("compressed pixel data", StringComparison.Ordinal) && !stripped.Contains(DicomTag.PixelData))
                {
                    stripped.Add(DicomTag.PixelData);
                    args.AddRange(["-ea", "(7fe0,0010)"]);
                }
                else if (error.Contains("DcmSpecificCharacterSet", StringComparison.Ordinal) && !stripped.Contains(DicomTag.SpecificCharacterSet))
                {
                    // Declared Latin-1 instead, so dcm2json converts every byte (to nonsense, which is not compared).
                    stripped.Add(DicomTag.SpecificCharacterSet);
                    args.AddRange(["-m", "(0008,0005)=ISO_IR 100"]);
                }
                else
                {
                    return (1, "", error);
                }
                args.Add(copy);
                var (modRc, _, modErr) = Tool.Run("dcmodify", [.. args]);
                if (modRc != 0) return (modRc, "", "dcmodify: " + modErr);
                var (rc, stdout, stderr) = Tool.Run("dcm2json", "-fc", copy);
                if (rc == 0) return (rc, stdout, stderr);
                error = stderr;
            }
            return (1, "", error);
        }
        finally
        {
            File.Delete(copy);
        }
    }
}

internal static class Tool
{
    public static (int ExitCode, string Stdout, string Stderr) Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process p;
        try
        {
            p = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"{tool} is not installed (scripts/bootstrap installs it): {ex.Message}", ex);
        }
        using (p)
        {
            var stderr = p.StandardError.ReadToEndAsync();
            var stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, stdout, stderr.Result);
        }
    }
}

public class ConformanceCorpusTests
{
    [Fact]
    public void Every_file_dcmtk_reads_is_read()
    {
        var failures = new List<string>();
        var count = 0;
        foreach (var f in ConformanceCorpus.Readable)
        {
            count++;
            try
            {
                var file = DicomFile.Open(f.Path);
                Assert.True(file.Dataset.Count > 0 || file.FileMetaInfo.Count > 0, "nothing read");
            }
            catch (Exception ex)
            {
                failures.Add($"{f.Name}: {ex.GetType().Name}: {ex.Message}");
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {count} files failed:\n" + string.Join('\n', failures));
    }

    [Fact]
    public void Files_dcmtk_rejects_raise_DicomReaderException_naming_offset_and_tag()
    {
        var failures = new List<string>();
        var rejected = ConformanceCorpus.Rejected.ToList();
        // The deliberately broken files must be among them, or the corpus is not what this test expects.
        foreach (var name in new[] { "MR_truncated.dcm", "rtplan_truncated.dcm", "no_meta.dcm" })
            Assert.Contains(rejected, e => e.Path.EndsWith("/" + name, StringComparison.Ordinal));
        foreach (var f in rejected)
        {
            if (ReadBeyondDcmtk.ContainsKey(System.IO.Path.GetFileName(f.Path))) continue;
            try
            {
                DicomFile.Open(f.Path);
                failures.Add($"{f.Name}: read without error");
            }
            catch (DicomReaderException ex)
            {
                if (ex.Tag is null || !ex.Message.Contains($"byte offset {ex.Offset}", StringComparison.Ordinal) || !ex.Message.Contains(ex.Tag.Value.ToString(), StringComparison.Ordinal))
                    failures.Add($"{f.Name}: message does not name offset and tag: {ex.Message}");
            }
            catch (Exception ex)
            {
                failures.Add($"{f.Name}: {ex.GetType().Name} instead of DicomReaderException: {ex.Message}");
            }
        }
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    /// <summary>Files DCMTK rejects that are not broken in a way that loses data, and that we read on purpose.</summary>
    private static readonly Dictionary<string, string> ReadBeyondDcmtk = new()
    {
        ["SC_rgb_jpeg.dcm"] = "declares JPEG Baseline (so explicit VR) but its dataset is implicit VR; detected from the first element, as pydicom does",
    };

    [Fact]
    public void Files_read_beyond_dcmtk_are_read_correctly()
    {
        foreach (var name in ReadBeyondDcmtk.Keys)
        {
            var entry = Assert.Single(ConformanceCorpus.Rejected, e => e.Path.EndsWith("/" + name, StringComparison.Ordinal));
            var file = DicomFile.Open(entry.Path);
            // The dataset parsed as implicit VR must agree with the meta group and hold the encapsulated frame.
            Assert.Equal(file.FileMetaInfo.GetString(DicomTag.MediaStorageSOPInstanceUID), file.Dataset.GetString(DicomTag.SOPInstanceUID));
            Assert.Equal(DicomVR.CS, file.Dataset[DicomTag.ImageType]!.ValueRepresentation);
            Assert.Equal("DERIVED\\SECONDARY\\OTHER", file.Dataset.GetString(DicomTag.ImageType));
            Assert.IsType<DicomFragmentSequence>(file.Dataset[DicomTag.PixelData]);
        }
    }

    [Fact]
    public void Json_agrees_with_dcm2json()
    {
        var failures = new List<string>();
        var compared = 0;
        foreach (var f in ConformanceCorpus.Readable)
        {
            if (f.Dcm2Json is null)
            {
                failures.Add($"{f.Name}: dcm2json failed: {f.Dcm2JsonError}");
                continue;
            }
            compared++;
            string ours;
            try
            {
                ours = DicomJsonWriter.ToJson(DicomFile.Open(f.Path).Dataset);
            }
            catch (Exception ex)
            {
                failures.Add($"{f.Name}: {ex.GetType().Name}: {ex.Message}");
                continue;
            }
            var diffs = JsonComparison.Compare(f.Dcm2Json, ours, f.Stripped);
            if (diffs.Count > 0) failures.Add($"{f.Name}:\n  " + string.Join("\n  ", diffs.Take(8)) + (diffs.Count > 8 ? $"\n  ... {diffs.Count - 8} more" : ""));
        }
        Assert.True(compared > 150, $"only {compared} files had dcm2json output");
        Assert.True(failures.Count == 0, $"{failures.Count} of {compared} files disagree with dcm2json:\n" + string.Join('\n', failures));
    }
}

/// <summary>
/// Compares two DICOM JSON documents semantically: the same non-binary attributes, the same VRs, numbers equal within
/// a relative 1e-6 (DS text and float printing differ between toolkits), strings and PN groups equal.
/// </summary>
public static class JsonComparison
{
    public static List<string> Compare(string expectedJson, string actualJson, IReadOnlyList<DicomTag> stripped)
    {
        using var expected = JsonDocument.Parse(expectedJson);
        using var actual = JsonDocument.Parse(actualJson);
        var diffs = new List<string>();
        var skip = stripped.Select(t => t.Value.ToString("X8")).ToHashSet();
        CompareDatasets(expected.RootElement, actual.RootElement, "", skip, stripped.Contains(DicomTag.SpecificCharacterSet), diffs);
        return diffs;
    }

    private static readonly HashSet<string> CharsetDependent = ["SH", "LO", "ST", "LT", "PN", "UC", "UT"];

    /// <summary>dcm2json leaves an item in ISO 2022 IR 87 unconverted (glibc iconv lacks it); pydicom checks those.</summary>
    private static bool DcmtkCannotConvert(JsonElement item) =>
        item.TryGetProperty("00080005", out var cs) && cs.GetRawText().Contains("IR 87", StringComparison.Ordinal);

    private static bool IsBinary(JsonElement attr) =>
        DicomVR.TryParse(attr.GetProperty("vr").GetString()!, out var vr) && DicomJsonWriter.IsBulkVR(vr);

    private static void CompareDatasets(JsonElement exp, JsonElement act, string path, HashSet<string> skip, bool skipCharsetDependent, List<string> diffs)
    {
        var e = exp.EnumerateObject().Where(p => !IsGroupLength(p.Name)).ToDictionary(p => p.Name, p => p.Value);
        var a = act.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        foreach (var name in e.Keys.Union(a.Keys).Order(StringComparer.Ordinal))
        {
            var where = path + name;
            var inE = e.TryGetValue(name, out var ev);
            var inA = a.TryGetValue(name, out var av);
            if (inE && IsBinary(ev) || inA && IsBinary(av) || skip.Contains(name)) continue;
            if (!inE || !inA)
            {
                diffs.Add($"{where}: {(inE ? "missing in ours" : "not in dcm2json")}");
                continue;
            }
            var evr = ev.GetProperty("vr").GetString();
            var avr = av.GetProperty("vr").GetString();
            if (evr != avr)
            {
                diffs.Add($"{where}: VR {avr}, dcm2json {evr}");
                continue;
            }
            if (skipCharsetDependent && CharsetDependent.Contains(evr!)) continue;
            var eHas = ev.TryGetProperty("Value", out var evals);
            var aHas = av.TryGetProperty("Value", out var avals);
            if (eHas != aHas)
            {
                diffs.Add($"{where}: {(eHas ? "no Value in ours, dcm2json " + evals.GetRawText() : "Value " + avals.GetRawText() + " where dcm2json has none")}");
                continue;
            }
            if (!eHas) continue;
            var el = evals.EnumerateArray().ToList();
            var al = avals.EnumerateArray().ToList();
            if (el.Count != al.Count)
            {
                diffs.Add($"{where}: {al.Count} values {Short(avals)}, dcm2json {el.Count} {Short(evals)}");
                continue;
            }
            for (var i = 0; i < el.Count; i++)
            {
                if (evr == "SQ")
                {
                    CompareDatasets(el[i], al[i], $"{where}[{i}].", [], skipCharsetDependent || DcmtkCannotConvert(el[i]), diffs);
                }
                else if (!ValueEquals(el[i], al[i]))
                {
                    diffs.Add($"{where} value {i}: {Short(al[i])}, dcm2json {Short(el[i])}");
                }
            }
        }
    }

    private static bool IsGroupLength(string tag) => tag.EndsWith("0000", StringComparison.Ordinal);

    private static string Short(JsonElement e)
    {
        var s = e.GetRawText();
        return s.Length > 120 ? s[..120] + "..." : s;
    }

    private static bool ValueEquals(JsonElement exp, JsonElement act)
    {
        if (exp.ValueKind == JsonValueKind.Number && act.ValueKind == JsonValueKind.Number)
        {
            var x = exp.GetDouble();
            var y = act.GetDouble();
            // (float) equality covers FL values printed with different digits (denormals: 1E-45 vs 1.40129846e-45).
            return x == y || (float)x == (float)y || Math.Abs(x - y) <= 1e-6 * Math.Max(Math.Abs(x), Math.Abs(y));
        }
        if (exp.ValueKind == JsonValueKind.Object && act.ValueKind == JsonValueKind.Object)
        {
            var eg = exp.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
            var ag = act.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
            return eg.Count == ag.Count && eg.All(kv => ag.TryGetValue(kv.Key, out var v) && v == kv.Value);
        }
        if (exp.ValueKind != act.ValueKind) return false;
        return exp.ValueKind != JsonValueKind.String || exp.GetString() == act.GetString();
    }
}
