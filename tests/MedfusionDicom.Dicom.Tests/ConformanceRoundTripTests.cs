using MedfusionDicom.Dicom.IO;
using MedfusionDicom.Dicom.Json;

namespace MedfusionDicom.Dicom.Tests;

/// <summary>read -> write -> read over the corpus, in every transfer syntax we can write the file in.</summary>
public class ConformanceRoundTripTests
{
    [Fact]
    public void Read_write_read_gives_the_same_dataset_in_every_uncompressed_syntax()
    {
        var failures = new List<string>();
        int files = 0, roundTrips = 0;
        foreach (var f in ConformanceCorpus.Readable)
        {
            var original = DicomFile.Open(f.Path);
            files++;
            // Compressed pixel data cannot be written uncompressed without a codec: those files go back in their own syntax.
            var syntaxes = original.Dataset[DicomTag.PixelData] is DicomFragmentSequence
                ? [original.TransferSyntax]
                : DicomTransferSyntax.Uncompressed;
            foreach (var syntax in syntaxes)
            {
                roundTrips++;
                try
                {
                    using var ms = new MemoryStream();
                    original.Save(ms, syntax);
                    var again = DicomFile.Open(ms.ToArray());
                    Assert.Equal(syntax, again.TransferSyntax);
                    var diffs = new List<string>();
                    DatasetComparison.Compare(original.Dataset, again.Dataset, implicitTarget: !syntax.IsExplicitVR, "", diffs);
                    if (diffs.Count > 0) failures.Add($"{f.Name} as {syntax}: " + string.Join("; ", diffs.Take(5)));
                }
                catch (Exception ex)
                {
                    failures.Add($"{f.Name} as {syntax}: {ex.GetType().Name}: {ex.Message}");
                }
            }
        }
        Assert.True(files > 150, $"only {files} files");
        Assert.True(failures.Count == 0, $"{failures.Count} of {roundTrips} round trips over {files} files failed:\n" + string.Join('\n', failures));
    }

    [Fact]
    public void Json_of_every_file_reads_back_to_the_same_json()
    {
        var failures = new List<string>();
        foreach (var f in ConformanceCorpus.Readable)
        {
            try
            {
                var json = DicomJsonWriter.ToJson(DicomFile.Open(f.Path).Dataset);
                var again = DicomJsonWriter.ToJson(DicomJsonReader.Read(json));
                if (json != again) failures.Add($"{f.Name}: differs at character {FirstDifference(json, again)}: ...{Around(json, again)}");
            }
            catch (Exception ex)
            {
                failures.Add($"{f.Name}: {ex.GetType().Name}: {ex.Message}");
            }
        }
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    private static int FirstDifference(string a, string b)
    {
        var i = 0;
        while (i < a.Length && i < b.Length && a[i] == b[i]) i++;
        return i;
    }

    private static string Around(string a, string b)
    {
        var i = Math.Max(0, FirstDifference(a, b) - 60);
        return $"{a.Substring(i, Math.Min(120, a.Length - i))} | {b.Substring(i, Math.Min(120, b.Length - i))}";
    }
}

/// <summary>Element-by-element equality of two datasets: same tags, VRs and value bytes, recursively; group lengths excepted.</summary>
public static class DatasetComparison
{
    public static void Compare(DicomDataset expected, DicomDataset actual, bool implicitTarget, string path, List<string> diffs)
    {
        var e = expected.Where(i => !i.Tag.IsGroupLength).ToDictionary(i => i.Tag);
        var a = actual.Where(i => !i.Tag.IsGroupLength).ToDictionary(i => i.Tag);
        foreach (var tag in e.Keys.Union(a.Keys).Order())
        {
            var where = path + tag;
            if (!e.TryGetValue(tag, out var ei) || !a.TryGetValue(tag, out var ai))
            {
                diffs.Add($"{where} {(e.ContainsKey(tag) ? "lost" : "appeared")}");
                continue;
            }
            if (ei.ValueRepresentation != ai.ValueRepresentation && !(implicitTarget && ImplicitVRAccepts(ei, ai)))
                diffs.Add($"{where} VR {ei.ValueRepresentation} became {ai.ValueRepresentation}");
            switch (ei, ai)
            {
                case (DicomElement x, DicomElement y):
                    var xb = Padded(x.Buffer.Memory.Span, x.ValueRepresentation);
                    if (!xb.AsSpan().SequenceEqual(y.Buffer.Memory.Span)) diffs.Add($"{where} value bytes differ ({x.Length} vs {y.Length} bytes)");
                    break;
                case (DicomSequence x, DicomSequence y):
                    if (x.Items.Count != y.Items.Count) diffs.Add($"{where} {x.Items.Count} items became {y.Items.Count}");
                    else for (var i = 0; i < x.Items.Count; i++) Compare(x.Items[i], y.Items[i], implicitTarget, $"{where}[{i}].", diffs);
                    break;
                case (DicomFragmentSequence x, DicomFragmentSequence y):
                    var xs = x.Fragments.Prepend(x.OffsetTable).ToList();
                    var ys = y.Fragments.Prepend(y.OffsetTable).ToList();
                    if (xs.Count != ys.Count || xs.Zip(ys).Any(p => !Padded(p.First.Memory.Span, DicomVR.OB).AsSpan().SequenceEqual(p.Second.Memory.Span)))
                        diffs.Add($"{where} fragments differ");
                    break;
                default:
                    diffs.Add($"{where} was a {ei.GetType().Name}, became a {ai.GetType().Name}");
                    break;
            }
        }
    }

    /// <summary>
    /// Implicit VR does not store the VR: the reader takes the dictionary's (UN for unknown private elements, LO for
    /// private creators, SS for US-or-SS elements when Pixel Representation is 1, OW for OB-or-OW). Only those changes are accepted.
    /// </summary>
    private static bool ImplicitVRAccepts(DicomItem original, DicomItem readBack)
    {
        var vr = readBack.ValueRepresentation;
        if (vr == DicomVR.UN || vr == readBack.Tag.DictionaryEntry.ValueRepresentation) return true;
        if (readBack.Tag.IsPrivateCreator && vr == DicomVR.LO) return true;
        var pair = new[] { original.ValueRepresentation.Code, vr.Code }.Order().ToArray();
        return pair is ["SS", "US"] or ["OB", "OW"];
    }

    /// <summary>Odd-length values (invalid, but found in files) are written padded to even length with the VR's padding byte.</summary>
    private static byte[] Padded(ReadOnlySpan<byte> value, DicomVR vr)
    {
        if ((value.Length & 1) == 0) return value.ToArray();
        var copy = new byte[value.Length + 1];
        value.CopyTo(copy);
        copy[^1] = vr.PaddingByte;
        return copy;
    }
}
