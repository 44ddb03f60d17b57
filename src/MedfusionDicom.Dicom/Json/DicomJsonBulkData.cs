using MedfusionDicom.Dicom.IO;

namespace MedfusionDicom.Dicom.Json;

/// <summary>One step from a dataset into a sequence item: the sequence's tag and the item's index.</summary>
public readonly record struct DicomItemPathStep(DicomTag Sequence, int ItemIndex);

/// <summary>
/// A bulk (binary) element the JSON writer is about to write, with where it sits: the sequence items above it,
/// outermost first. The DICOMweb server turns this into a BulkDataURI (e.g. ".../bulkdata/00540016/0/00181072").
/// </summary>
public sealed class DicomBulkDataContext
{
    internal DicomBulkDataContext(DicomItem item, IReadOnlyList<DicomItemPathStep> parents)
    {
        Item = item;
        Parents = parents;
    }

    public DicomItem Item { get; }
    public DicomTag Tag => Item.Tag;
    public IReadOnlyList<DicomItemPathStep> Parents { get; }

    /// <summary>The path as "gggggggg/index/.../gggggggg", usable as a URI segment.</summary>
    public string PathString =>
        string.Concat(Parents.Select(p => $"{p.Sequence.Value:X8}/{p.ItemIndex}/")) + Tag.Value.ToString("X8", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// The value of an element read from DICOM JSON as a BulkDataURI: the bytes live elsewhere. They are fetched through
/// the resolver on first use; without one, using the value raises a <see cref="DicomException"/> naming the URI.
/// Writing the dataset back to JSON keeps the URI.
/// </summary>
public sealed class BulkDataUriByteBuffer : IByteBuffer
{
    private readonly Func<string, ReadOnlyMemory<byte>>? _resolver;
    private ReadOnlyMemory<byte>? _data;

    public BulkDataUriByteBuffer(string uri, Func<string, ReadOnlyMemory<byte>>? resolver = null)
    {
        Uri = uri;
        _resolver = resolver;
    }

    public string Uri { get; }
    public bool IsResolved => _data is not null;

    public ReadOnlyMemory<byte> Memory => _data ??= Resolve();
    public long Size => Memory.Length;
    public Stream OpenRead() => new ReadOnlyMemoryStream(Memory);

    private ReadOnlyMemory<byte> Resolve()
    {
        if (_resolver is null) throw new DicomException($"bulk data at '{Uri}' has not been fetched (no resolver was given to the JSON reader)");
        return _resolver(Uri);
    }
}
