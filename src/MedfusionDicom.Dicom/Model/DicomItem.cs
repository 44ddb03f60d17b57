using System.Collections.ObjectModel;
using MedfusionDicom.Dicom.IO;

namespace MedfusionDicom.Dicom;

/// <summary>One entry of a dataset: an element with a value, a sequence, or encapsulated pixel data.</summary>
public abstract class DicomItem
{
    protected DicomItem(DicomTag tag, DicomVR vr)
    {
        Tag = tag;
        ValueRepresentation = vr;
    }

    public DicomTag Tag { get; }
    public DicomVR ValueRepresentation { get; }

    /// <summary>A copy that shares value bytes (they are immutable) but not structure.</summary>
    public abstract DicomItem Clone();

    public override string ToString() => $"{Tag} {ValueRepresentation} {Tag.DictionaryEntry.Keyword}";
}

/// <summary>An element with a value: its bytes as encoded (little-endian), decoded on demand.</summary>
public sealed class DicomElement : DicomItem
{
    public DicomElement(DicomTag tag, DicomVR vr, IByteBuffer buffer) : base(tag, vr) => Buffer = buffer;

    public DicomElement(DicomTag tag, DicomVR vr, ReadOnlyMemory<byte> bytes) : this(tag, vr, new MemoryByteBuffer(bytes)) { }

    public IByteBuffer Buffer { get; }
    public long Length => Buffer.Size;

    public override DicomItem Clone() => new DicomElement(Tag, ValueRepresentation, Buffer);
}

/// <summary>A sequence of items, each a dataset.</summary>
public sealed class DicomSequence : DicomItem
{
    private DicomDataset? _owner;

    public DicomSequence(DicomTag tag, IEnumerable<DicomDataset>? items = null) : base(tag, DicomVR.SQ)
    {
        Items = new ItemList(this);
        if (items is not null) foreach (var item in items) Items.Add(item);
    }

    public DicomSequence(DicomTag tag, params DicomDataset[] items) : this(tag, (IEnumerable<DicomDataset>)items) { }

    /// <summary>The items; one added here gets the dataset holding the sequence as its parent (for the character set).</summary>
    public Collection<DicomDataset> Items { get; }

    public override DicomItem Clone() => new DicomSequence(Tag, Items.Select(i => i.Clone()));

    /// <summary>Called by the dataset the sequence is put in, so that its items, present and future, inherit from it.</summary>
    internal void AttachTo(DicomDataset owner)
    {
        _owner = owner;
        foreach (var item in Items) item.Parent = owner;
    }

    private sealed class ItemList(DicomSequence sequence) : Collection<DicomDataset>
    {
        protected override void InsertItem(int index, DicomDataset item)
        {
            ArgumentNullException.ThrowIfNull(item);
            item.Parent = sequence._owner;
            base.InsertItem(index, item);
        }

        protected override void SetItem(int index, DicomDataset item)
        {
            ArgumentNullException.ThrowIfNull(item);
            item.Parent = sequence._owner;
            base.SetItem(index, item);
        }
    }
}

/// <summary>Encapsulated (compressed) pixel data: a Basic Offset Table and the fragments, in order.</summary>
public sealed class DicomFragmentSequence : DicomItem
{
    public DicomFragmentSequence(DicomTag tag, DicomVR vr, IByteBuffer offsetTable, IEnumerable<IByteBuffer> fragments) : base(tag, vr)
    {
        OffsetTable = offsetTable;
        Fragments = new List<IByteBuffer>(fragments);
    }

    /// <summary>The first item's bytes: 32-bit offsets of each frame's first fragment, or empty.</summary>
    public IByteBuffer OffsetTable { get; }
    public List<IByteBuffer> Fragments { get; }

    public IReadOnlyList<uint> Offsets
    {
        get
        {
            var span = OffsetTable.Memory.Span;
            var result = new uint[span.Length / 4];
            for (var i = 0; i < result.Length; i++) result[i] = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(span[(i * 4)..]);
            return result;
        }
    }

    public override DicomItem Clone() => new DicomFragmentSequence(Tag, ValueRepresentation, OffsetTable, Fragments);
}
