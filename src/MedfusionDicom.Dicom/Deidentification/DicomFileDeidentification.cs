using System.Globalization;
using System.Text;

namespace MedfusionDicom.Dicom.Deidentification;

/// <summary>What a run over files did.</summary>
public sealed record DeidentificationSummary(int Files, int Skipped, IReadOnlyList<string> SkippedReasons, IReadOnlyDictionary<string, int> ActionCounts);

/// <summary>
/// De-identifies a file or every DICOM file under a folder. The outputs are named by their new UIDs
/// (OUT/study/series/instance.dcm), never by the inputs' names, which may carry identity themselves. Each file is
/// written to a temporary name and renamed, so that a stopped run leaves no half-written file.
/// </summary>
public static class DicomFileDeidentification
{
    public static async Task<DeidentificationSummary> RunAsync(string input, string output, DicomDeidentifier deidentifier, IProgress<(int Done, int Total)>? progress = null,
        CancellationToken ct = default)
    {
        string[] files;
        if (File.Exists(input)) files = [input];
        else if (Directory.Exists(input)) files = Directory.GetFiles(input, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        else throw new DicomException($"'{input}' is neither a file nor a folder");

        var skipped = new List<string>();
        var written = 0;
        for (var i = 0; i < files.Length; i++)
        {
            ct.ThrowIfCancellationRequested();
            DicomFile source;
            try
            {
                source = await DicomFile.OpenAsync(files[i], cancellationToken: ct).ConfigureAwait(false);
            }
            catch (DicomException e)
            {
                skipped.Add($"{Path.GetRelativePath(input == files[i] ? Path.GetDirectoryName(input)! : input, files[i])}: {e.Message}");
                progress?.Report((i + 1, files.Length));
                continue;
            }

            var result = deidentifier.Deidentify(source.Dataset);
            var target = Path.Combine(output, Safe(result.GetStringOrDefault(DicomTag.StudyInstanceUID, "study")),
                Safe(result.GetStringOrDefault(DicomTag.SeriesInstanceUID, "series")), Safe(result.GetStringOrDefault(DicomTag.SOPInstanceUID, $"{i}")) + ".dcm");
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            var temporary = target + ".tmp";
            // Cleaned pixels are native: an instance that was compressed is then written uncompressed.
            var syntax = source.Dataset.InternalTransferSyntax.IsEncapsulated && result[DicomTag.PixelData] is DicomElement
                ? DicomTransferSyntax.ExplicitVRLittleEndian : source.Dataset.InternalTransferSyntax;
            await new DicomFile(result).SaveAsync(temporary, syntax, ct).ConfigureAwait(false);
            File.Move(temporary, target, overwrite: true);
            written++;
            progress?.Report((i + 1, files.Length));
        }

        return new DeidentificationSummary(written, skipped.Count, skipped, deidentifier.ActionCounts);
    }

    /// <summary>The data owner's mapping: one line per patient and per UID, original then replacement.</summary>
    public static async Task WriteMapAsync(string path, DicomDeidentifier deidentifier, CancellationToken ct = default)
    {
        var text = new StringBuilder("kind,original,replacement\n");
        foreach (var (original, pseudonym) in deidentifier.PatientMap.OrderBy(p => p.Key, StringComparer.Ordinal)) text.Append("patient,").Append(Csv(original)).Append(',').Append(Csv(pseudonym)).Append('\n');
        foreach (var (original, uid) in deidentifier.UidMap.OrderBy(p => p.Key, StringComparer.Ordinal)) text.Append("uid,").Append(original).Append(',').Append(uid).Append('\n');
        var temporary = path + ".tmp";
        await File.WriteAllTextAsync(temporary, text.ToString(), ct).ConfigureAwait(false);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Pseudonyms from a CSV of original Patient ID, pseudonym (a header line naming them is skipped).</summary>
    public static IReadOnlyDictionary<string, string> ReadPseudonyms(string path)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        var lines = File.ReadAllLines(path);
        for (var n = 0; n < lines.Length; n++)
        {
            var line = lines[n].Trim();
            if (line.Length == 0 || n == 0 && line.StartsWith("original", StringComparison.OrdinalIgnoreCase)) continue;
            var comma = line.IndexOf(',', StringComparison.Ordinal);
            if (comma <= 0 || comma == line.Length - 1) throw new DicomException($"{path}:{n + 1}: expected 'original Patient ID,pseudonym'");
            map[line[..comma].Trim()] = line[(comma + 1)..].Trim();
        }

        return map;
    }

    private static string Safe(string uid) => string.Concat(uid.Where(c => char.IsAsciiDigit(c) || c == '.'));

    private static string Csv(string value) => value.Contains(',', StringComparison.Ordinal) || value.Contains('"', StringComparison.Ordinal)
        ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
}
