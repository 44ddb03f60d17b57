using System.Diagnostics;
using System.Text;
using MedfusionDicom.Dicom.Imaging;

namespace MedfusionDicom.Dicom.Codecs.Tests;

/// <summary>
/// Every file of Debian python3-pydicom's test corpus that has pixel data and that `gdcmconv --raw` converts:
/// our transcode to Explicit VR Little Endian must give GDCM's pixels (exactly for lossless sources, within 2 for lossy).
/// The corpus and gdcmconv come from scripts/bootstrap; their absence is a failure, not a skip.
/// </summary>
public sealed class ConformanceCorpusTests
{
    private const string Corpus = "/usr/lib/python3/dist-packages/pydicom/data/test_files";

    /// <summary>Files the corpus breaks on purpose; gdcmconv pads them, we must refuse them with a reader exception.</summary>
    private static readonly Dictionary<string, string> DeliberatelyBroken = new(StringComparer.Ordinal)
    {
        ["MR_truncated.dcm"] = "exceeds the",
    };

    private static readonly DicomCodecRegistry Registry = CreateRegistry();

    private static DicomCodecRegistry CreateRegistry()
    {
        var registry = new DicomCodecRegistry();
        GdcmCodecs.Register(registry);
        return registry;
    }

    [Fact]
    public void TranscodedPixelsMatchGdcmconv()
    {
        Assert.True(Directory.Exists(Corpus), $"{Corpus} is missing: run scripts/bootstrap (Debian python3-pydicom)");
        var temp = Directory.CreateTempSubdirectory("medfusion-corpus-");
        try
        {
            var files = Directory.GetFiles(Corpus, "*.dcm").Order(StringComparer.Ordinal).ToArray();
            var reference = files.AsParallel().WithDegreeOfParallelism(2)
                .Select(f => (File: f, Raw: RunGdcmconv(f, Path.Combine(temp.FullName, Path.GetFileName(f)))))
                .ToDictionary(r => r.File, r => r.Raw);
            var problems = new List<string>();
            var compared = new List<string>();
            foreach (var file in files)
            {
                var raw = reference[file];
                if (raw is null) continue;
                var expected = DicomFile.Open(raw);
                if (!expected.Dataset.Contains(DicomTag.PixelData)) continue;
                var problem = DeliberatelyBroken.TryGetValue(Path.GetFileName(file), out var complaint)
                    ? ExpectRefusal(file, complaint)
                    : Compare(file, expected);
                if (problem is not null) problems.Add($"{Path.GetFileName(file)}: {problem}");
                else compared.Add(Path.GetFileName(file));
            }
            Assert.True(problems.Count == 0, $"{problems.Count} file(s) differ from gdcmconv --raw:\n" + string.Join('\n', problems));
            // The corpus holds JPEG, JPEG-LS, JPEG 2000 and RLE files; a count far below this means the loop compared nothing.
            Assert.True(compared.Count >= 40, $"only {compared.Count} files were compared: {string.Join(", ", compared)}");
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }

    private static string? ExpectRefusal(string path, string complaint)
    {
        try
        {
            DicomFile.Open(path);
            return "a deliberately broken file was read without complaint";
        }
        catch (DicomReaderException ex) when (ex.Message.Contains(complaint, StringComparison.Ordinal))
        {
            return null;
        }
        catch (DicomException ex)
        {
            return $"refused, but not with a reader exception saying '{complaint}': {ex.GetType().Name}: {ex.Message}";
        }
    }

    private static string? Compare(string path, DicomFile expected)
    {
        DicomFile ours;
        try
        {
            var source = DicomFile.Open(path);
            var transcoded = DicomTranscoder.Transcode(source, DicomTransferSyntax.ExplicitVRLittleEndian, Registry);
            // Through the writer and the reader again: what a consumer of our output would see.
            using var ms = new MemoryStream();
            transcoded.Save(ms);
            ours = DicomFile.Open(ms.ToArray());
        }
        catch (DicomException ex)
        {
            return $"{ex.GetType().Name}: {ex.Message}";
        }
        var lossy = expected.Dataset.GetStringOrDefault(DicomTag.LossyImageCompression) == "01" || ours.TransferSyntax.IsLossy;
        var ourPi = ours.Dataset.GetStringOrDefault(DicomTag.PhotometricInterpretation);
        var gdcmPi = expected.Dataset.GetStringOrDefault(DicomTag.PhotometricInterpretation);
        if (ourPi != gdcmPi) return $"Photometric Interpretation {ourPi}, gdcmconv says {gdcmPi}";
        if (ours.Dataset.GetStringOrDefault(DicomTag.LossyImageCompression) != expected.Dataset.GetStringOrDefault(DicomTag.LossyImageCompression)
            && lossy && ours.Dataset.GetStringOrDefault(DicomTag.LossyImageCompression) != "01")
            return "Lossy Image Compression is not 01 for a lossy source";
        var a = ours.Dataset.GetBuffer(DicomTag.PixelData).Memory.Span;
        var b = expected.Dataset.GetBuffer(DicomTag.PixelData).Memory.Span;
        var bitsAllocated = ours.Dataset.GetSingleValue<int>(DicomTag.BitsAllocated);
        return lossy ? CompareWithin(a, b, bitsAllocated, 2) : CompareExact(a, b);
    }

    private static string? CompareExact(ReadOnlySpan<byte> ours, ReadOnlySpan<byte> gdcm)
    {
        if (ours.Length != gdcm.Length) return $"pixel data is {ours.Length} bytes, gdcmconv's {gdcm.Length}";
        var at = ours.CommonPrefixLength(gdcm);
        return at == ours.Length ? null : $"lossless pixels differ first at byte {at}: {ours[at]} vs {gdcm[at]}";
    }

    private static string? CompareWithin(ReadOnlySpan<byte> ours, ReadOnlySpan<byte> gdcm, int bitsAllocated, int tolerance)
    {
        if (ours.Length != gdcm.Length) return $"pixel data is {ours.Length} bytes, gdcmconv's {gdcm.Length}";
        var size = bitsAllocated > 8 ? 2 : 1;
        for (var i = 0; i + size <= ours.Length; i += size)
        {
            int x = size == 2 ? BitConverter.ToUInt16(ours[i..]) : ours[i];
            int y = size == 2 ? BitConverter.ToUInt16(gdcm[i..]) : gdcm[i];
            if (Math.Abs(x - y) > tolerance) return $"lossy sample at byte {i} is {x}, gdcmconv's {y} (tolerance {tolerance})";
        }
        return null;
    }

    /// <summary>The decompressed file, or null when gdcmconv cannot convert the input (then it is out of scope).</summary>
    private static string? RunGdcmconv(string input, string output)
    {
        var psi = new ProcessStartInfo("gdcmconv") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in new[] { "--raw", input, output }) psi.ArgumentList.Add(arg);
        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("gdcmconv is not installed: run scripts/bootstrap (Debian libgdcm-tools)", ex);
        }
        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            _ = stderr.Result;
            return process.ExitCode == 0 && File.Exists(output) ? output : null;
        }
    }
}
