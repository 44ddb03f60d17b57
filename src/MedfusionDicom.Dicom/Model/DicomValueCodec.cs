using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using MedfusionDicom.Dicom.Text;

namespace MedfusionDicom.Dicom;

/// <summary>Converts element bytes to typed values and back, as each VR prescribes (PS3.5 §6.2).</summary>
internal static class DicomValueCodec
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The value as text with padding removed; multiple values stay backslash-separated.</summary>
    /// <summary>
    /// An element read as UN (explicit VR UN, or an unknown VR) whose tag the dictionary knows is read as its real VR:
    /// UN keeps the value bytes of implicit little endian, which is how every little-endian syntax encodes them.
    /// </summary>
    private static DicomElement AsDictionaryVR(DicomElement e)
    {
        if (e.ValueRepresentation != DicomVR.UN || e.Tag.IsPrivate) return e;
        var vr = e.Tag.DictionaryEntry.ValueRepresentation;
        return vr == DicomVR.UN || vr == DicomVR.SQ || vr == DicomVR.NONE ? e : new DicomElement(e.Tag, vr, e.Buffer);
    }

    public static string DecodeString(DicomElement e, DicomCharacterSet cs)
    {
        e = AsDictionaryVR(e);
        var vr = e.ValueRepresentation;
        if (vr.IsString) return TrimPadding(cs.Decode(e.Buffer.Memory.Span, vr), vr);
        return string.Join('\\', DecodeValues<string>(e, cs));
    }

    public static string TrimPadding(string s, DicomVR vr)
    {
        if (vr == DicomVR.UI) return s.TrimEnd('\0', ' ');
        // LT/ST/UT/UR keep leading spaces (significant); every string VR drops trailing space and NUL padding.
        if (vr == DicomVR.LT || vr == DicomVR.ST || vr == DicomVR.UT || vr == DicomVR.UR) return s.TrimEnd(' ', '\0');
        return s.Trim(' ', '\0');
    }

    public static string[] SplitValues(DicomElement e, DicomCharacterSet cs)
    {
        var vr = e.ValueRepresentation;
        if (e.Length == 0) return [];
        var text = cs.Decode(e.Buffer.Memory.Span, vr);
        if (!vr.IsMultiValueString) return [TrimPadding(text, vr)];
        var parts = text.Split('\\');
        for (var i = 0; i < parts.Length; i++) parts[i] = TrimPadding(parts[i], vr);
        return parts;
    }

    public static int CountValues(DicomElement e)
    {
        var vr = e.ValueRepresentation;
        if (e.Length == 0) return 0;
        if (vr.IsString)
        {
            if (!vr.IsMultiValueString) return 1;
            return e.Buffer.Memory.Span.Count((byte)'\\') + 1;
        }
        if (vr == DicomVR.OB || vr == DicomVR.UN) return 1;
        if (vr == DicomVR.AT) return (int)(e.Length / 4);
        return (int)(e.Length / vr.UnitSize);
    }

    public static T[] DecodeValues<T>(DicomElement e, DicomCharacterSet cs)
    {
        e = AsDictionaryVR(e);
        var vr = e.ValueRepresentation;
        if (vr.IsString)
        {
            var parts = SplitValues(e, cs);
            var result = new T[parts.Length];
            for (var i = 0; i < parts.Length; i++) result[i] = ParseString<T>(parts[i], vr, e.Tag);
            return result;
        }
        var bytes = e.Buffer.Memory.Span;
        if (typeof(T) == typeof(byte)) return (T[])(object)bytes.ToArray();
        if (vr == DicomVR.AT)
        {
            var tags = new DicomTag[bytes.Length / 4];
            for (var i = 0; i < tags.Length; i++)
                tags[i] = new DicomTag(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(i * 4)..]), BinaryPrimitives.ReadUInt16LittleEndian(bytes[(i * 4 + 2)..]));
            return ConvertAll<DicomTag, T>(tags, e.Tag);
        }
        var n = bytes.Length / Math.Max(vr.UnitSize, 1);
        bytes = bytes[..(n * vr.UnitSize)];
        return vr.Code switch
        {
            "US" or "OW" => ConvertAll<ushort, T>(MemoryMarshal.Cast<byte, ushort>(bytes).ToArray(), e.Tag),
            "SS" => ConvertAll<short, T>(MemoryMarshal.Cast<byte, short>(bytes).ToArray(), e.Tag),
            "UL" or "OL" => ConvertAll<uint, T>(MemoryMarshal.Cast<byte, uint>(bytes).ToArray(), e.Tag),
            "SL" => ConvertAll<int, T>(MemoryMarshal.Cast<byte, int>(bytes).ToArray(), e.Tag),
            "FL" or "OF" => ConvertAll<float, T>(MemoryMarshal.Cast<byte, float>(bytes).ToArray(), e.Tag),
            "FD" or "OD" => ConvertAll<double, T>(MemoryMarshal.Cast<byte, double>(bytes).ToArray(), e.Tag),
            "SV" => ConvertAll<long, T>(MemoryMarshal.Cast<byte, long>(bytes).ToArray(), e.Tag),
            "UV" or "OV" => ConvertAll<ulong, T>(MemoryMarshal.Cast<byte, ulong>(bytes).ToArray(), e.Tag),
            _ => ConvertAll<byte, T>(bytes.ToArray(), e.Tag),
        };
    }

    private static T[] ConvertAll<TSource, T>(TSource[] values, DicomTag tag)
    {
        if (values is T[] same) return same;
        var result = new T[values.Length];
        for (var i = 0; i < values.Length; i++) result[i] = ConvertNumber<TSource, T>(values[i], tag);
        return result;
    }

    private static T ConvertNumber<TSource, T>(TSource value, DicomTag tag)
    {
        object v = value!;
        try
        {
            if (typeof(T) == typeof(string))
                return (T)(object)(v is double d ? d.ToString("R", Inv) : v is float f ? f.ToString("R", Inv) : Convert.ToString(v, Inv)!);
            if (typeof(T) == typeof(object)) return (T)v;
            return (T)Convert.ChangeType(v, typeof(T), Inv);
        }
        catch (Exception ex) when (ex is InvalidCastException or OverflowException or FormatException)
        {
            throw new DicomValueException($"{tag} {tag.DictionaryEntry.Keyword} value {v} cannot be read as {typeof(T).Name}", ex);
        }
    }

    private static T ParseString<T>(string s, DicomVR vr, DicomTag tag)
    {
        try
        {
            object result = typeof(T) switch
            {
                var t when t == typeof(string) || t == typeof(object) => s,
                var t when t == typeof(DicomPersonName) => DicomPersonName.Parse(s),
                var t when t == typeof(DicomUID) => DicomUID.Lookup(s),
                var t when t == typeof(DicomTransferSyntax) => DicomTransferSyntax.Parse(s),
                var t when t == typeof(double) => double.Parse(s, NumberStyles.Float, Inv),
                var t when t == typeof(float) => float.Parse(s, NumberStyles.Float, Inv),
                var t when t == typeof(decimal) => decimal.Parse(s, NumberStyles.Float, Inv),
                var t when t == typeof(int) => int.Parse(s, NumberStyles.Integer, Inv),
                var t when t == typeof(long) => long.Parse(s, NumberStyles.Integer, Inv),
                var t when t == typeof(uint) => uint.Parse(s, NumberStyles.Integer, Inv),
                var t when t == typeof(ushort) => ushort.Parse(s, NumberStyles.Integer, Inv),
                var t when t == typeof(short) => short.Parse(s, NumberStyles.Integer, Inv),
                var t when t == typeof(DateTime) => ParseDateTime(s, vr),
                var t when t == typeof(DateOnly) => DateOnly.FromDateTime(ParseDateTime(s, DicomVR.DA)),
                var t when t == typeof(TimeSpan) => ParseDateTime(s, DicomVR.TM).TimeOfDay,
                var t when t.IsEnum => Enum.Parse(t, s, ignoreCase: true),
                _ => throw new DicomValueException($"{tag} {vr} values cannot be read as {typeof(T).Name}"),
            };
            return (T)result;
        }
        catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException)
        {
            throw new DicomValueException($"{tag} {tag.DictionaryEntry.Keyword} {vr} value '{s}' cannot be read as {typeof(T).Name}: {ex.Message}", ex);
        }
    }

    private static readonly string[] DateFormats = ["yyyyMMdd", "yyyy.MM.dd", "yyyyMM", "yyyy"];
    private static readonly string[] TimeFormats = ["HHmmss.FFFFFF", "HHmmss", "HHmm", "HH", "HH:mm:ss.FFFFFF", "HH:mm:ss", "HH:mm"];
    private static readonly string[] DateTimeFormats =
        ["yyyyMMddHHmmss.FFFFFF", "yyyyMMddHHmmss", "yyyyMMddHHmm", "yyyyMMddHH", "yyyyMMdd", "yyyyMM", "yyyy"];

    public static DateTime ParseDateTime(string s, DicomVR vr)
    {
        var text = s.Trim();
        if (vr == DicomVR.DT)
        {
            // Drop a UTC offset suffix (&ZZXX); callers wanting the offset use DateTimeOffset on the string.
            var cut = text.IndexOfAny(['+', '-'], 4);
            if (cut > 0) text = text[..cut];
            return DateTime.ParseExact(text, DateTimeFormats, Inv, DateTimeStyles.None);
        }
        if (vr == DicomVR.TM) return DateTime.MinValue.Add(DateTime.ParseExact(text, TimeFormats, Inv, DateTimeStyles.NoCurrentDateDefault).TimeOfDay);
        return DateTime.ParseExact(text, DateFormats, Inv, DateTimeStyles.None);
    }

    // ---- encoding ----

    public static byte[] Encode<T>(DicomTag tag, DicomVR vr, T[] values, DicomCharacterSet cs)
    {
        if (vr.IsString)
        {
            var text = string.Join('\\', values.Select(v => FormatString(v, vr, tag)));
            if (!vr.IsMultiValueString && values.Length > 1)
                throw new DicomValueException($"{tag} {vr} holds a single value, got {values.Length}");
            return Pad(cs.Encode(text, vr), vr);
        }
        if (vr == DicomVR.SQ || vr == DicomVR.NONE) throw new DicomValueException($"{tag} is a {vr}; it has no plain value");
        if (values is byte[] raw) return Pad(raw, vr);
        if (vr == DicomVR.AT)
        {
            var at = new byte[values.Length * 4];
            for (var i = 0; i < values.Length; i++)
            {
                var t = values[i] is DicomTag dt ? dt : DicomTag.Parse(Convert.ToString(values[i], Inv)!);
                BinaryPrimitives.WriteUInt16LittleEndian(at.AsSpan(i * 4), t.Group);
                BinaryPrimitives.WriteUInt16LittleEndian(at.AsSpan(i * 4 + 2), t.Element);
            }
            return at;
        }
        var buf = new byte[values.Length * vr.UnitSize];
        var span = buf.AsSpan();
        for (var i = 0; i < values.Length; i++)
        {
            var v = values[i];
            var slot = span[(i * vr.UnitSize)..];
            try
            {
                switch (vr.Code)
                {
                    case "US" or "OW": BinaryPrimitives.WriteUInt16LittleEndian(slot, Convert.ToUInt16(v, Inv)); break;
                    case "SS": BinaryPrimitives.WriteInt16LittleEndian(slot, Convert.ToInt16(v, Inv)); break;
                    case "UL" or "OL": BinaryPrimitives.WriteUInt32LittleEndian(slot, Convert.ToUInt32(v, Inv)); break;
                    case "SL": BinaryPrimitives.WriteInt32LittleEndian(slot, Convert.ToInt32(v, Inv)); break;
                    case "FL" or "OF": BinaryPrimitives.WriteSingleLittleEndian(slot, Convert.ToSingle(v, Inv)); break;
                    case "FD" or "OD": BinaryPrimitives.WriteDoubleLittleEndian(slot, Convert.ToDouble(v, Inv)); break;
                    case "SV": BinaryPrimitives.WriteInt64LittleEndian(slot, Convert.ToInt64(v, Inv)); break;
                    case "UV" or "OV": BinaryPrimitives.WriteUInt64LittleEndian(slot, Convert.ToUInt64(v, Inv)); break;
                    default: slot[0] = Convert.ToByte(v, Inv); break;
                }
            }
            catch (Exception ex) when (ex is InvalidCastException or OverflowException or FormatException)
            {
                throw new DicomValueException($"{tag} {vr}: value '{v}' does not fit the VR", ex);
            }
        }
        return Pad(buf, vr);
    }

    private static string FormatString<T>(T value, DicomVR vr, DicomTag tag) => value switch
    {
        null => "",
        string s => s,
        DicomUID u => u.UID,
        DicomTransferSyntax ts => ts.UID.UID,
        DicomPersonName pn => pn.ToString(),
        double d when vr == DicomVR.DS => FormatDecimalString(d),
        float f when vr == DicomVR.DS => FormatDecimalString(f),
        decimal m when vr == DicomVR.DS => FormatDecimalString((double)m),
        DateTime dt when vr == DicomVR.DA => dt.ToString("yyyyMMdd", Inv),
        DateTime dt when vr == DicomVR.TM => dt.ToString("HHmmss.ffffff", Inv),
        DateTime dt when vr == DicomVR.DT => dt.ToString("yyyyMMddHHmmss.ffffff", Inv),
        DateOnly d => d.ToString("yyyyMMdd", Inv),
        TimeSpan t => new DateTime(t.Ticks).ToString("HHmmss.ffffff", Inv),
        IFormattable f => f.ToString(null, Inv),
        _ => value.ToString() ?? throw new DicomValueException($"{tag}: null value"),
    };

    /// <summary>A DS value: at most 16 characters (PS3.5), as precise as fits.</summary>
    public static string FormatDecimalString(double d)
    {
        if (double.IsNaN(d) || double.IsInfinity(d)) throw new DicomValueException($"DS cannot hold {d}");
        for (var digits = 16; digits > 0; digits--)
        {
            var s = d.ToString("G" + digits, Inv);
            if (s.Length <= 16) return s;
        }
        return d.ToString("E8", Inv);
    }

    public static byte[] Pad(byte[] bytes, DicomVR vr)
    {
        if ((bytes.Length & 1) == 0) return bytes;
        var padded = new byte[bytes.Length + 1];
        bytes.CopyTo(padded, 0);
        padded[^1] = vr.PaddingByte;
        return padded;
    }
}
