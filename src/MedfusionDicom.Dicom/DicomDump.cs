using System.Text;

namespace MedfusionDicom.Dicom;

/// <summary>A human-readable listing of a dataset, one element a line, in the style of dcmdump.</summary>
public static class DicomDump
{
    private const int MaxValueChars = 64;

    public static string Format(DicomFile file)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# File Meta Information");
        Append(sb, file.FileMetaInfo, 0);
        sb.AppendLine($"# Dataset ({file.TransferSyntax})");
        Append(sb, file.Dataset, 0);
        return sb.ToString();
    }

    public static string Format(DicomDataset dataset)
    {
        var sb = new StringBuilder();
        Append(sb, dataset, 0);
        return sb.ToString();
    }

    private static void Append(StringBuilder sb, DicomDataset ds, int depth)
    {
        var indent = new string(' ', depth * 2);
        foreach (var item in ds)
        {
            var keyword = item.Tag.DictionaryEntry.Keyword;
            switch (item)
            {
                case DicomSequence sq:
                    sb.AppendLine($"{indent}{sq.Tag} SQ ({sq.Items.Count} items) {keyword}");
                    for (var i = 0; i < sq.Items.Count; i++)
                    {
                        sb.AppendLine($"{indent}  > item {i + 1}");
                        Append(sb, sq.Items[i], depth + 2);
                    }
                    break;
                case DicomFragmentSequence f:
                    sb.AppendLine($"{indent}{f.Tag} {f.ValueRepresentation} (encapsulated: offset table {f.OffsetTable.Size} bytes, {f.Fragments.Count} fragments, {f.Fragments.Sum(x => x.Size)} bytes) {keyword}");
                    break;
                case DicomElement e:
                    sb.AppendLine($"{indent}{e.Tag} {e.ValueRepresentation} [{Preview(ds, e)}] # {e.Length}, {ds.GetValueCount(e.Tag)} {keyword}");
                    break;
            }
        }
    }

    private static string Preview(DicomDataset ds, DicomElement e)
    {
        var vr = e.ValueRepresentation;
        if (vr == DicomVR.OB || vr == DicomVR.UN || (!vr.IsString && e.Length > 64))
            return $"{e.Length} bytes";
        string text;
        try
        {
            text = ds.GetString(e.Tag);
        }
        catch (DicomException ex)
        {
            text = "<unreadable: " + ex.Message + ">";
        }
        text = text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
        return text.Length > MaxValueChars ? text[..MaxValueChars] + "..." : text;
    }
}
