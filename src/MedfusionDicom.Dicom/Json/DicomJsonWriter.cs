using System.Buffers.Binary;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using MedfusionDicom.Dicom.IO;
using MedfusionDicom.Dicom.Text;

namespace MedfusionDicom.Dicom.Json;

public sealed class DicomJsonWriterOptions
{
    public static DicomJsonWriterOptions Default { get; } = new();

    /// <summary>
    /// Called for every bulk element (OB OD OF OL OV OW UN, encapsulated pixel data): a URI to write as BulkDataURI,
    /// or null to write the bytes as InlineBinary.
    /// </summary>
    public Func<DicomBulkDataContext, string?>? BulkDataUri { get; init; }

    public bool Indented { get; init; }

    /// <summary>
    /// JSON text is Unicode, so a Specific Character Set present in the dataset is written as "ISO_IR 192", as DCMTK's
    /// dcm2json does: a dataset rebuilt from the JSON is then encoded in UTF-8, which holds every character.
    /// </summary>
    public bool DeclareUtf8 { get; init; } = true;
}

/// <summary>Writes datasets as the DICOM JSON Model (PS3.18 Annex F), streaming through a <see cref="Utf8JsonWriter"/>.</summary>
public static class DicomJsonWriter
{
    // Non-ASCII characters are written as themselves: the output is UTF-8 and names should stay readable.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = false };

    public static void Write(Stream stream, DicomDataset dataset, DicomJsonWriterOptions? options = null)
    {
        options ??= DicomJsonWriterOptions.Default;
        using var writer = new Utf8JsonWriter(stream, WriterOptions with { Indented = options.Indented });
        Write(writer, dataset, options);
    }

    /// <summary>Writes a JSON array of datasets (a QIDO-RS or WADO-RS metadata response).</summary>
    public static void WriteArray(Stream stream, IEnumerable<DicomDataset> datasets, DicomJsonWriterOptions? options = null)
    {
        options ??= DicomJsonWriterOptions.Default;
        using var writer = new Utf8JsonWriter(stream, WriterOptions with { Indented = options.Indented });
        writer.WriteStartArray();
        foreach (var ds in datasets)
        {
            Write(writer, ds, options);
            if (writer.BytesPending > 64 * 1024) writer.Flush();
        }
        writer.WriteEndArray();
    }

    public static void Write(Utf8JsonWriter writer, DicomDataset dataset, DicomJsonWriterOptions? options = null) =>
        new Context(writer, options ?? DicomJsonWriterOptions.Default).Dataset(dataset, DicomCharacterSet.Default, []);

    public static string ToJson(DicomDataset dataset, DicomJsonWriterOptions? options = null)
    {
        using var ms = new MemoryStream();
        Write(ms, dataset, options);
        return System.Text.Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length);
    }

    /// <summary>Bulk VRs: their values are bytes, written as InlineBinary or BulkDataURI.</summary>
    public static bool IsBulkVR(DicomVR vr) =>
        vr == DicomVR.OB || vr == DicomVR.OD || vr == DicomVR.OF || vr == DicomVR.OL || vr == DicomVR.OV || vr == DicomVR.OW || vr == DicomVR.UN;

    private sealed class Context(Utf8JsonWriter w, DicomJsonWriterOptions options)
    {
        public void Dataset(DicomDataset ds, DicomCharacterSet inherited, List<DicomItemPathStep> path)
        {
            var cs = ds.Contains(DicomTag.SpecificCharacterSet) ? ds.CharacterSet : inherited;
            w.WriteStartObject();
            foreach (var item in ds)
            {
                // Group lengths describe one binary encoding; they have no meaning in JSON.
                if (item.Tag.IsGroupLength) continue;
                w.WritePropertyName(item.Tag.Value.ToString("X8", CultureInfo.InvariantCulture));
                w.WriteStartObject();
                var vr = item.ValueRepresentation == DicomVR.NONE ? DicomVR.UN : item.ValueRepresentation;
                w.WriteString("vr"u8, vr.Code);
                switch (item)
                {
                    case DicomSequence sq:
                        Sequence(sq, cs, path);
                        break;
                    case DicomFragmentSequence f:
                        Bulk(item, path, () => EncapsulatedBytes(f));
                        break;
                    case DicomElement e when e.Buffer is BulkDataUriByteBuffer { IsResolved: false } unresolved:
                        w.WriteString("BulkDataURI"u8, unresolved.Uri);
                        break;
                    case DicomElement e when IsBulkVR(vr):
                        if (e.Length > 0) Bulk(item, path, () => e.Buffer.Memory);
                        break;
                    case DicomElement e:
                        Values(e, vr, cs, path.Count == 0);
                        break;
                }
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }

        private void Sequence(DicomSequence sq, DicomCharacterSet cs, List<DicomItemPathStep> path)
        {
            if (sq.Items.Count == 0) return;
            w.WriteStartArray("Value"u8);
            for (var i = 0; i < sq.Items.Count; i++)
            {
                path.Add(new DicomItemPathStep(sq.Tag, i));
                Dataset(sq.Items[i], cs, path);
                path.RemoveAt(path.Count - 1);
            }
            w.WriteEndArray();
        }

        private void Bulk(DicomItem item, List<DicomItemPathStep> path, Func<ReadOnlyMemory<byte>> bytes)
        {
            var uri = options.BulkDataUri?.Invoke(new DicomBulkDataContext(item, path.ToArray()));
            if (uri is not null) w.WriteString("BulkDataURI"u8, uri);
            else w.WriteBase64String("InlineBinary"u8, bytes().Span);
        }

        private void Values(DicomElement e, DicomVR vr, DicomCharacterSet cs, bool topLevel)
        {
            if (e.Tag == DicomTag.SpecificCharacterSet && topLevel && options.DeclareUtf8)
            {
                // Only the top level, as dcm2json does: an item's own declaration still says how to re-encode that item.
                w.WriteStartArray("Value"u8);
                w.WriteStringValue("ISO_IR 192");
                w.WriteEndArray();
                return;
            }
            if (e.Length == 0) return;
            if (vr.IsString)
            {
                var parts = DicomValueCodec.SplitValues(e, e.Tag == DicomTag.SpecificCharacterSet ? DicomCharacterSet.Default : cs);
                if (vr == DicomVR.PN) for (var i = 0; i < parts.Length; i++) parts[i] = TrimPersonName(parts[i]);
                if (parts.Length == 1 && parts[0].Length == 0) return; // only padding: an empty value
                w.WriteStartArray("Value"u8);
                foreach (var p in parts) StringValue(p, vr);
                w.WriteEndArray();
                return;
            }
            w.WriteStartArray("Value"u8);
            var span = e.Buffer.Memory.Span;
            if (vr == DicomVR.AT)
            {
                for (var i = 0; i + 4 <= span.Length; i += 4)
                {
                    var tag = new DicomTag(BinaryPrimitives.ReadUInt16LittleEndian(span[i..]), BinaryPrimitives.ReadUInt16LittleEndian(span[(i + 2)..]));
                    w.WriteStringValue(tag.Value.ToString("X8", CultureInfo.InvariantCulture));
                }
            }
            else
            {
                for (var i = 0; i + vr.UnitSize <= span.Length; i += vr.UnitSize) BinaryNumber(span[i..], vr);
            }
            w.WriteEndArray();
        }

        /// <summary>Trailing empty components and groups carry nothing (PS3.5 §6.2.1): "^^^^" is an empty name.</summary>
        private static string TrimPersonName(string value)
        {
            var groups = value.Split('=').Select(g => g.TrimEnd('^', ' ')).ToList();
            while (groups.Count > 0 && groups[^1].Length == 0) groups.RemoveAt(groups.Count - 1);
            return string.Join('=', groups);
        }

        private void StringValue(string value, DicomVR vr)
        {
            if (value.Length == 0)
            {
                w.WriteNullValue();
                return;
            }
            if (vr == DicomVR.PN)
            {
                var pn = DicomPersonName.Parse(value);
                w.WriteStartObject();
                if (pn.Alphabetic.Length > 0) w.WriteString("Alphabetic"u8, pn.Alphabetic);
                if (pn.Ideographic.Length > 0) w.WriteString("Ideographic"u8, pn.Ideographic);
                if (pn.Phonetic.Length > 0) w.WriteString("Phonetic"u8, pn.Phonetic);
                w.WriteEndObject();
                return;
            }
            if (vr == DicomVR.DS || vr == DicomVR.IS)
            {
                NumberString(value);
                return;
            }
            w.WriteStringValue(value);
        }

        /// <summary>
        /// DS and IS values are JSON numbers. Their text is kept when it already is a JSON number (so "5.0" stays
        /// "5.0"); other forms DICOM allows (".5", "+1", "1.") are normalised; text that is no number stays a string.
        /// </summary>
        private void NumberString(string value)
        {
            if (JsonNumber.IsValid(value))
            {
                w.WriteRawValue(value, skipInputValidation: true);
                return;
            }
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d))
            {
                w.WriteNumberValue(d);
                return;
            }
            w.WriteStringValue(value);
        }

        private void BinaryNumber(ReadOnlySpan<byte> s, DicomVR vr)
        {
            switch (vr.Code)
            {
                case "US": w.WriteNumberValue(BinaryPrimitives.ReadUInt16LittleEndian(s)); break;
                case "SS": w.WriteNumberValue(BinaryPrimitives.ReadInt16LittleEndian(s)); break;
                case "UL": w.WriteNumberValue(BinaryPrimitives.ReadUInt32LittleEndian(s)); break;
                case "SL": w.WriteNumberValue(BinaryPrimitives.ReadInt32LittleEndian(s)); break;
                case "SV": w.WriteNumberValue(BinaryPrimitives.ReadInt64LittleEndian(s)); break;
                case "UV": w.WriteNumberValue(BinaryPrimitives.ReadUInt64LittleEndian(s)); break;
                case "FL": FloatingPoint(BinaryPrimitives.ReadSingleLittleEndian(s)); break;
                case "FD": FloatingPoint(BinaryPrimitives.ReadDoubleLittleEndian(s)); break;
                default: throw new DicomValueException($"VR {vr} has no JSON number form");
            }
        }

        private void FloatingPoint(float f)
        {
            if (float.IsFinite(f)) w.WriteNumberValue(f);
            else w.WriteStringValue(f.ToString(CultureInfo.InvariantCulture)); // JSON has no NaN/Infinity; the reader parses these back
        }

        private void FloatingPoint(double d)
        {
            if (double.IsFinite(d)) w.WriteNumberValue(d);
            else w.WriteStringValue(d.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Encapsulated pixel data as its value field is encoded (PS3.5 A.4): items, then the sequence delimiter.</summary>
    internal static byte[] EncapsulatedBytes(DicomFragmentSequence f)
    {
        var enc = new DicomWriter.Encoder(explicitVr: true, bigEndian: false);
        enc.Item(f);
        var all = enc.ToArray();
        return all[12..]; // drop the element header (tag, VR, reserved, length): only the value field is wanted
    }
}

/// <summary>The JSON number grammar (RFC 8259 §6), to decide whether DS/IS text can be written as it is.</summary>
internal static class JsonNumber
{
    public static bool IsValid(string s)
    {
        var i = 0;
        if (i < s.Length && s[i] == '-') i++;
        if (i >= s.Length) return false;
        if (s[i] == '0') i++;
        else if (char.IsAsciiDigit(s[i])) while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
        else return false;
        if (i < s.Length && s[i] == '.')
        {
            i++;
            var start = i;
            while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
            if (i == start) return false;
        }
        if (i < s.Length && (s[i] == 'e' || s[i] == 'E'))
        {
            i++;
            if (i < s.Length && (s[i] == '+' || s[i] == '-')) i++;
            var start = i;
            while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
            if (i == start) return false;
        }
        return i == s.Length;
    }
}
