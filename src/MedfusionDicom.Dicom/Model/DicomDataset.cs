using System.Collections;
using MedfusionDicom.Dicom.IO;
using MedfusionDicom.Dicom.Text;

namespace MedfusionDicom.Dicom;

/// <summary>A set of data elements kept in tag order, with typed access that encodes values as their VR requires.</summary>
public sealed class DicomDataset : IEnumerable<DicomItem>
{
    private readonly SortedList<uint, DicomItem> _items = new();
    private DicomCharacterSet? _charset;

    public DicomDataset() { }

    public DicomDataset(IEnumerable<DicomItem> items)
    {
        foreach (var item in items) AddOrUpdate(item);
    }

    public DicomDataset(params DicomItem[] items) : this((IEnumerable<DicomItem>)items) { }

    /// <summary>The transfer syntax the dataset was read in, or will be written in by default.</summary>
    public DicomTransferSyntax InternalTransferSyntax { get; set; } = DicomTransferSyntax.ExplicitVRLittleEndian;

    /// <summary>The dataset that holds this one as a sequence item; its character set applies unless this one sets its own.</summary>
    public DicomDataset? Parent { get; internal set; }

    public int Count => _items.Count;

    public DicomCharacterSet CharacterSet
    {
        get
        {
            if (_charset is not null) return _charset;
            if (_items.TryGetValue(DicomTag.SpecificCharacterSet.Value, out var item) && item is DicomElement e)
                return _charset = DicomCharacterSet.FromTerms(DicomValueCodec.SplitValues(e, DicomCharacterSet.Default) is { Length: > 0 } t ? string.Join('\\', t) : null);
            return Parent?.CharacterSet ?? DicomCharacterSet.Default;
        }
    }

    // ---- structure ----

    public bool Contains(DicomTag tag) => _items.ContainsKey(tag.Value);

    public DicomItem? this[DicomTag tag] => _items.TryGetValue(tag.Value, out var i) ? i : null;

    /// <summary>Adds an item; an item with the same tag must not exist yet.</summary>
    public DicomDataset Add(DicomItem item)
    {
        if (_items.ContainsKey(item.Tag.Value)) throw new DicomException($"{item.Tag} {item.Tag.DictionaryEntry.Keyword} is already in the dataset");
        return AddOrUpdate(item);
    }

    public DicomDataset AddOrUpdate(DicomItem item)
    {
        if (item.Tag == DicomTag.SpecificCharacterSet) _charset = null;
        if (item is DicomSequence sq) sq.AttachTo(this);
        _items[item.Tag.Value] = item;
        return this;
    }

    /// <summary>Appends an item read from a stream; the caller guarantees ascending order.</summary>
    internal void AddRead(DicomItem item)
    {
        if (item.Tag == DicomTag.SpecificCharacterSet) _charset = null;
        // Linked here, once, so that nested items inherit the character set without any getter having to fix links up.
        if (item is DicomSequence sq) sq.AttachTo(this);
        _items[item.Tag.Value] = item;
    }

    public bool Remove(DicomTag tag)
    {
        if (tag == DicomTag.SpecificCharacterSet) _charset = null;
        return _items.Remove(tag.Value);
    }

    public void Clear()
    {
        _items.Clear();
        _charset = null;
    }

    public DicomDataset Clone()
    {
        var copy = new DicomDataset { InternalTransferSyntax = InternalTransferSyntax };
        foreach (var item in _items.Values) copy.AddOrUpdate(item.Clone());
        return copy;
    }

    public IEnumerator<DicomItem> GetEnumerator() => _items.Values.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    // ---- typed setters ----

    /// <summary>Sets values with the dictionary's VR for the tag (use the VR overload for private or ambiguous tags).</summary>
    public DicomDataset AddOrUpdate<T>(DicomTag tag, params T[] values) => AddOrUpdate(ResolveVR(tag), tag, values);

    public DicomDataset AddOrUpdate<T>(DicomVR vr, DicomTag tag, params T[] values)
    {
        if (vr == DicomVR.SQ)
        {
            if (values is DicomDataset[] items) return AddOrUpdate(new DicomSequence(tag, items));
            if (values.Length == 0) return AddOrUpdate(new DicomSequence(tag));
            throw new DicomValueException($"{tag} is a sequence; give it DicomDataset items");
        }
        var charset = tag == DicomTag.SpecificCharacterSet ? DicomCharacterSet.Default : CharacterSet;
        return AddOrUpdate(new DicomElement(tag, vr, DicomValueCodec.Encode(tag, vr, values, charset)));
    }

    public DicomDataset AddOrUpdate(DicomTag tag, params DicomDataset[] items) => AddOrUpdate(new DicomSequence(tag, items));

    private static DicomVR ResolveVR(DicomTag tag)
    {
        var vr = tag.DictionaryEntry.ValueRepresentation;
        if (vr == DicomVR.UN && !DicomDictionary.Default.TryGet(tag, out _))
            throw new DicomValueException($"{tag} is not in the data dictionary; give its VR explicitly");
        return vr;
    }

    // ---- typed getters ----

    public DicomElement GetElement(DicomTag tag) => this[tag] switch
    {
        DicomElement e => e,
        null => throw new DicomValueException($"{tag} {tag.DictionaryEntry.Keyword} is not in the dataset"),
        var other => throw new DicomValueException($"{tag} {tag.DictionaryEntry.Keyword} is a {other.ValueRepresentation}, not a plain element"),
    };

    /// <summary>The whole value as text, multiple values backslash-separated, padding removed.</summary>
    public string GetString(DicomTag tag) => DicomValueCodec.DecodeString(GetElement(tag), CharacterSet);

    public bool TryGetString(DicomTag tag, out string value)
    {
        if (this[tag] is DicomElement e)
        {
            value = DicomValueCodec.DecodeString(e, CharacterSet);
            return true;
        }
        value = "";
        return false;
    }

    public string GetStringOrDefault(DicomTag tag, string defaultValue = "") => TryGetString(tag, out var s) ? s : defaultValue;

    public T[] GetValues<T>(DicomTag tag) => DicomValueCodec.DecodeValues<T>(GetElement(tag), CharacterSet);

    public int GetValueCount(DicomTag tag) => this[tag] switch
    {
        DicomElement e => DicomValueCodec.CountValues(e),
        DicomSequence s => s.Items.Count,
        DicomFragmentSequence f => f.Fragments.Count,
        _ => 0,
    };

    public T GetValue<T>(DicomTag tag, int index)
    {
        var values = GetValues<T>(tag);
        if (index < 0 || index >= values.Length)
            throw new DicomValueException($"{tag} {tag.DictionaryEntry.Keyword} has {values.Length} values; value {index} does not exist");
        return values[index];
    }

    public T GetSingleValue<T>(DicomTag tag)
    {
        var values = GetValues<T>(tag);
        if (values.Length == 0) throw new DicomValueException($"{tag} {tag.DictionaryEntry.Keyword} is empty");
        return values[0];
    }

    /// <summary>
    /// The first value, or <paramref name="defaultValue"/> when the element is absent or empty. A value that is present
    /// but cannot be read as <typeparamref name="T"/> throws <see cref="DicomValueException"/>; see <see cref="TryGetSingleValue{T}"/>.
    /// </summary>
    public T GetSingleValueOrDefault<T>(DicomTag tag, T defaultValue) => TryGetSingleValue<T>(tag, out var v) ? v : defaultValue;

    /// <summary>
    /// False when the element is absent or has no value (an empty type 2 element). A value that is there but cannot be
    /// read as <typeparamref name="T"/> (a malformed number, too few bytes for one value, a sequence) throws
    /// <see cref="DicomValueException"/> naming the tag: a default in its place (e.g. unsigned for signed CT pixels)
    /// would be silently wrong, which is worse than failing.
    /// </summary>
    public bool TryGetSingleValue<T>(DicomTag tag, out T value)
    {
        value = default!;
        switch (this[tag])
        {
            case null:
                return false;
            case DicomElement e:
                if (e.Length == 0 || IsOnlyPadding(e)) return false;
                var values = DicomValueCodec.DecodeValues<T>(e, CharacterSet);
                if (values.Length == 0)
                    throw new DicomValueException($"{tag} {tag.DictionaryEntry.Keyword} {e.ValueRepresentation} holds {e.Length} bytes, too few for one value");
                value = values[0];
                return true;
            case var other:
                throw new DicomValueException($"{tag} {tag.DictionaryEntry.Keyword} is a {other.ValueRepresentation}, not an element with a value");
        }
    }

    /// <summary>A string value of nothing but spaces or NULs is an empty value written with padding.</summary>
    private bool IsOnlyPadding(DicomElement e) =>
        e.ValueRepresentation.IsString && DicomValueCodec.DecodeString(e, CharacterSet).Length == 0;

    public DicomSequence GetSequence(DicomTag tag) => this[tag] as DicomSequence
        ?? throw new DicomValueException($"{tag} {tag.DictionaryEntry.Keyword} is not a sequence in the dataset");

    public bool TryGetSequence(DicomTag tag, out DicomSequence sequence)
    {
        sequence = (this[tag] as DicomSequence)!;
        return sequence is not null;
    }

    /// <summary>The raw value bytes (little-endian) of a plain element.</summary>
    public IByteBuffer GetBuffer(DicomTag tag) => GetElement(tag).Buffer;

    public override string ToString() => $"DicomDataset ({Count} items)";
}
