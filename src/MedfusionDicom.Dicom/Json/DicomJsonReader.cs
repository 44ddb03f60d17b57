using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using MedfusionDicom.Dicom.IO;
using MedfusionDicom.Dicom.Text;

namespace MedfusionDicom.Dicom.Json;

public sealed class DicomJsonReaderOptions
{
    public static DicomJsonReaderOptions Default { get; } = new();

    /// <summary>
    /// Fetches the bytes of a BulkDataURI when the value is first used. Without it, BulkDataURI elements keep the URI
    /// (<see cref="BulkDataUriByteBuffer"/>) and only fail when their bytes are asked for.
    /// </summary>
    public Func<string, ReadOnlyMemory<byte>>? BulkDataResolver { get; init; }

    /// <summary>Sequences nested deeper than this are refused (hostile input), as the binary reader does.</summary>
    public int MaximumDepth { get; init; } = 64;
}

/// <summary>Reads the DICOM JSON Model (PS3.18 Annex F) into datasets, encoding each value as its VR requires.</summary>
public static class DicomJsonReader
{
    public static DicomDataset Read(string json, DicomJsonReaderOptions? options = null) =>
        Read(System.Text.Encoding.UTF8.GetBytes(json), options);

    public static DicomDataset Read(ReadOnlyMemory<byte> utf8Json, DicomJsonReaderOptions? options = null)
    {
        using var doc = Parse(utf8Json);
        return ReadDataset(doc.RootElement, options ?? DicomJsonReaderOptions.Default);
    }

    public static DicomDataset Read(Stream stream, DicomJsonReaderOptions? options = null)
    {
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        return Read(ms.GetBuffer().AsMemory(0, (int)ms.Length), options);
    }

    /// <summary>Reads a JSON array of datasets (QIDO-RS / WADO-RS metadata).</summary>
    public static IReadOnlyList<DicomDataset> ReadArray(ReadOnlyMemory<byte> utf8Json, DicomJsonReaderOptions? options = null)
    {
        using var doc = Parse(utf8Json);
        if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new DicomJsonException("expected a JSON array of datasets", "$");
        var opts = options ?? DicomJsonReaderOptions.Default;
        return doc.RootElement.EnumerateArray().Select(e => ReadDataset(e, opts)).ToList();
    }

    /// <summary>Reads one dataset object (e.g. an element of an array the caller parsed).</summary>
    public static DicomDataset ReadDataset(JsonElement obj, DicomJsonReaderOptions? options = null) =>
        new Builder(options ?? DicomJsonReaderOptions.Default).Dataset(obj, DicomCharacterSet.Default, "$", 0);

    private static JsonDocument Parse(ReadOnlyMemory<byte> utf8Json)
    {
        try
        {
            return JsonDocument.Parse(utf8Json, new JsonDocumentOptions { MaxDepth = 512 });
        }
        catch (JsonException ex)
        {
            throw new DicomJsonException("not valid JSON: " + ex.Message, ex.Path ?? "$", ex);
        }
    }

    private sealed class Builder(DicomJsonReaderOptions options)
    {
        public DicomDataset Dataset(JsonElement obj, DicomCharacterSet inherited, string where, int depth)
        {
            if (obj.ValueKind != JsonValueKind.Object) throw new DicomJsonException("expected a dataset object", where);
            if (depth > options.MaximumDepth) throw new DicomJsonException($"sequences nested more than {options.MaximumDepth} deep", where);
            var ds = new DicomDataset();
            // The character set decides how every string below is encoded, so it is read first.
            var cs = inherited;
            if (obj.TryGetProperty("00080005", out var csJson))
            {
                ds.AddOrUpdate(Item(DicomTag.SpecificCharacterSet, csJson, DicomCharacterSet.Default, where + ".00080005", depth));
                try
                {
                    cs = ds.CharacterSet;
                }
                catch (DicomException ex)
                {
                    throw new DicomJsonException(ex.Message, where + ".00080005", ex);
                }
            }
            foreach (var prop in obj.EnumerateObject())
            {
                var at = where + "." + prop.Name;
                if (prop.Name.Length != 8 || !uint.TryParse(prop.Name, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var tagValue))
                    throw new DicomJsonException($"'{prop.Name}' is not a tag (8 hex digits)", at);
                var tag = new DicomTag(tagValue);
                if (tag == DicomTag.SpecificCharacterSet) continue;
                ds.AddOrUpdate(Item(tag, prop.Value, cs, at, depth));
            }
            return ds;
        }

        private DicomItem Item(DicomTag tag, JsonElement attr, DicomCharacterSet cs, string at, int depth)
        {
            if (attr.ValueKind != JsonValueKind.Object) throw new DicomJsonException("expected an attribute object with \"vr\"", at);
            if (!attr.TryGetProperty("vr", out var vrJson) || vrJson.ValueKind != JsonValueKind.String || !DicomVR.TryParse(vrJson.GetString()!, out var vr) || vr == DicomVR.NONE)
                throw new DicomJsonException("missing or unknown \"vr\"", at);
            var hasValue = attr.TryGetProperty("Value", out var value);
            if (attr.TryGetProperty("InlineBinary", out var inline))
            {
                if (inline.ValueKind != JsonValueKind.String || !inline.TryGetBytesFromBase64(out var bytes))
                    throw new DicomJsonException("InlineBinary is not a base64 string", at);
                return tag == DicomTag.PixelData && TryEncapsulated(tag, vr, bytes, out var frags) ? frags : new DicomElement(tag, vr, bytes);
            }
            if (attr.TryGetProperty("BulkDataURI", out var uri))
            {
                if (uri.ValueKind != JsonValueKind.String) throw new DicomJsonException("BulkDataURI is not a string", at);
                return new DicomElement(tag, vr, new BulkDataUriByteBuffer(uri.GetString()!, options.BulkDataResolver));
            }
            if (vr == DicomVR.SQ)
            {
                var items = new List<DicomDataset>();
                if (hasValue)
                {
                    var i = 0;
                    foreach (var child in Array(value, at)) items.Add(Dataset(child, cs, $"{at}.Value[{i++}]", depth + 1));
                }
                return new DicomSequence(tag, items);
            }
            if (!hasValue || value.ValueKind == JsonValueKind.Null) return new DicomElement(tag, vr, ReadOnlyMemory<byte>.Empty);
            try
            {
                return new DicomElement(tag, vr, Encode(tag, vr, value, cs, at));
            }
            catch (DicomValueException ex)
            {
                throw new DicomJsonException(ex.Message, at, ex);
            }
        }

        private static byte[] Encode(DicomTag tag, DicomVR vr, JsonElement value, DicomCharacterSet cs, string at)
        {
            if (vr.IsString) return DicomValueCodec.Encode(tag, vr, Strings(value, vr, at), cs);
            if (DicomJsonWriter.IsBulkVR(vr)) throw new DicomJsonException($"VR {vr} takes InlineBinary or BulkDataURI, not Value", at);
            var values = Array(value, at).ToList();
            if (vr == DicomVR.AT)
            {
                var at4 = new byte[values.Count * 4];
                for (var i = 0; i < values.Count; i++)
                {
                    var text = values[i].ValueKind == JsonValueKind.String ? values[i].GetString()! : "";
                    if (text.Length != 8 || !uint.TryParse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var t))
                        throw new DicomJsonException($"AT value '{values[i]}' is not \"ggggeeee\"", at);
                    BinaryPrimitives.WriteUInt16LittleEndian(at4.AsSpan(i * 4), (ushort)(t >> 16));
                    BinaryPrimitives.WriteUInt16LittleEndian(at4.AsSpan(i * 4 + 2), (ushort)t);
                }
                return at4;
            }
            var bytes = new byte[values.Count * vr.UnitSize];
            for (var i = 0; i < values.Count; i++) WriteNumber(bytes.AsSpan(i * vr.UnitSize), vr, values[i], at);
            return bytes;
        }

        /// <summary>One binary number; integers are read as integers (no detour through double, which loses 64-bit values).</summary>
        private static void WriteNumber(Span<byte> slot, DicomVR vr, JsonElement v, string at)
        {
            try
            {
                switch (vr.Code)
                {
                    case "US": BinaryPrimitives.WriteUInt16LittleEndian(slot, v.GetUInt16()); break;
                    case "SS": BinaryPrimitives.WriteInt16LittleEndian(slot, v.GetInt16()); break;
                    case "UL": BinaryPrimitives.WriteUInt32LittleEndian(slot, v.GetUInt32()); break;
                    case "SL": BinaryPrimitives.WriteInt32LittleEndian(slot, v.GetInt32()); break;
                    case "SV": BinaryPrimitives.WriteInt64LittleEndian(slot, v.GetInt64()); break;
                    case "UV": BinaryPrimitives.WriteUInt64LittleEndian(slot, v.GetUInt64()); break;
                    case "FL": BinaryPrimitives.WriteSingleLittleEndian(slot, (float)FloatingPoint(v)); break;
                    case "FD": BinaryPrimitives.WriteDoubleLittleEndian(slot, FloatingPoint(v)); break;
                    default: throw new DicomJsonException($"VR {vr} has no numeric JSON form", at);
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or FormatException)
            {
                throw new DicomJsonException($"{vr} value {v.GetRawText()} is not a number that fits the VR", at, ex);
            }
        }

        /// <summary>FL/FD: JSON numbers, or the strings "NaN", "Infinity", "-Infinity" our writer uses for what JSON cannot hold.</summary>
        private static double FloatingPoint(JsonElement v) =>
            v.ValueKind == JsonValueKind.String
                ? double.Parse(v.GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture)
                : v.GetDouble();

        /// <summary>The values of a string VR as DICOM text: PN objects joined with '=', numbers as their JSON text, null as empty.</summary>
        private static string[] Strings(JsonElement value, DicomVR vr, string at)
        {
            var result = new List<string>();
            foreach (var v in Array(value, at))
            {
                result.Add(v.ValueKind switch
                {
                    JsonValueKind.Null => "",
                    JsonValueKind.String when vr != DicomVR.PN => v.GetString()!,
                    JsonValueKind.Number when vr == DicomVR.DS || vr == DicomVR.IS => NumberText(v, vr),
                    JsonValueKind.Object when vr == DicomVR.PN => PersonName(v, at),
                    // PS3.18 F.2.2 allows PN given as a plain string in older encoders; keep it as the whole value.
                    JsonValueKind.String => v.GetString()!,
                    _ => throw new DicomJsonException($"{vr} value {v.GetRawText()} has the wrong JSON type", at),
                });
            }
            return result.ToArray();
        }

        /// <summary>DS/IS from a JSON number: its text when it fits the VR's 16/12 characters, else re-formatted to fit.</summary>
        private static string NumberText(JsonElement v, DicomVR vr)
        {
            var raw = v.GetRawText();
            if (raw.Length <= vr.MaximumLength) return raw;
            if (vr == DicomVR.IS) throw new DicomValueException($"IS value {raw} has more than 12 characters");
            return DicomValueCodec.FormatDecimalString(v.GetDouble());
        }

        private static string PersonName(JsonElement v, string at)
        {
            string Group(string name) => v.TryGetProperty(name, out var g) && g.ValueKind == JsonValueKind.String ? g.GetString()! : "";
            foreach (var p in v.EnumerateObject())
                if (p.Name is not ("Alphabetic" or "Ideographic" or "Phonetic"))
                    throw new DicomJsonException($"PN component group '{p.Name}' is not Alphabetic, Ideographic or Phonetic", at);
            return new DicomPersonName(Group("Alphabetic"), Group("Ideographic"), Group("Phonetic")).ToString();
        }

        private static JsonElement.ArrayEnumerator Array(JsonElement value, string at) =>
            value.ValueKind == JsonValueKind.Array ? value.EnumerateArray() : throw new DicomJsonException("\"Value\" must be an array", at);

        /// <summary>
        /// Pixel Data given inline whose bytes are an item stream ending in a sequence delimiter is encapsulated
        /// (that is how the writer, and PS3.18 F.2.7, encode compressed pixel data); it becomes fragments again.
        /// </summary>
        private static bool TryEncapsulated(DicomTag tag, DicomVR vr, byte[] bytes, out DicomFragmentSequence fragments)
        {
            fragments = null!;
            if (bytes.Length < 16 || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != 0xE000FFFE) return false;
            var items = new List<IByteBuffer>();
            var pos = 0;
            while (pos + 8 <= bytes.Length)
            {
                var itemTag = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos));
                var length = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + 4));
                pos += 8;
                if (itemTag == 0xE0DDFFFE)
                {
                    if (pos != bytes.Length || items.Count == 0) return false;
                    fragments = new DicomFragmentSequence(tag, vr, items[0], items.Skip(1));
                    return true;
                }
                if (itemTag != 0xE000FFFE || length > bytes.Length - pos) return false;
                items.Add(new MemoryByteBuffer(bytes.AsMemory(pos, (int)length)));
                pos += (int)length;
            }
            return false;
        }
    }
}

/// <summary>The DICOM JSON input is malformed; says where (a JSON path such as $.00081140.Value[0].00081155).</summary>
public sealed class DicomJsonException : DicomException
{
    public DicomJsonException(string problem, string path, Exception? inner = null) : base($"{problem} (at {path})", inner)
    {
        Problem = problem;
        JsonPath = path;
    }

    public string Problem { get; }
    public string JsonPath { get; }
}
