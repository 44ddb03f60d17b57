using System.Text;

namespace MedfusionDicom.Dicom.Text;

/// <summary>
/// The text encoding named by Specific Character Set (0008,0005), PS3.5 §6.1: single-byte sets, UTF-8, GB18030/GBK,
/// and ISO 2022 code extensions (escape sequences switching between G0/G1 sets, e.g. Japanese IR 87, Korean IR 149).
/// </summary>
public sealed class DicomCharacterSet
{
    static DicomCharacterSet() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    private static readonly Encoding Ascii = Encoding.Latin1; // lenient: bytes above 0x7F are kept, not replaced
    private readonly Encoding? _single;
    private readonly Iso2022Set? _initialG0;
    private readonly Iso2022Set? _initialG1;

    public static DicomCharacterSet Default { get; } = new(Array.Empty<string>());

    public DicomCharacterSet(IReadOnlyList<string> terms)
    {
        Terms = terms.Select(t => t.Trim()).ToArray();
        var first = Terms.Count > 0 ? Terms[0] : "";
        UsesCodeExtensions = Terms.Count > 1 || first.StartsWith("ISO 2022", StringComparison.Ordinal);
        if (!UsesCodeExtensions)
        {
            _single = first.Length == 0 ? null : SingleTermEncoding(first);
        }
        else
        {
            var (g0, g1) = InitialSets(first);
            _initialG0 = g0;
            _initialG1 = g1;
        }
    }

    public IReadOnlyList<string> Terms { get; }
    public bool UsesCodeExtensions { get; }

    public static DicomCharacterSet FromTerms(string? specificCharacterSet) =>
        string.IsNullOrEmpty(specificCharacterSet) ? Default : new DicomCharacterSet(specificCharacterSet.Split('\\'));

    public string Decode(ReadOnlySpan<byte> bytes, DicomVR vr)
    {
        if (!vr.IsCharacterSetDependent) return Ascii.GetString(bytes);
        if (_single is not null) return _single.GetString(bytes);
        if (!UsesCodeExtensions) return Ascii.GetString(bytes);
        return DecodeIso2022(bytes, vr);
    }

    public byte[] Encode(string text, DicomVR vr)
    {
        if (!vr.IsCharacterSetDependent || IsAscii(text)) return Ascii.GetBytes(text);
        if (_single is not null)
        {
            try
            {
                return Strict(_single).GetBytes(text);
            }
            catch (EncoderFallbackException ex)
            {
                throw new DicomValueException($"'{text}' cannot be encoded in Specific Character Set {Terms[0]}", ex);
            }
        }
        if (UsesCodeExtensions) return EncodeIso2022(text, vr);
        throw new DicomValueException($"'{text}' has characters outside the default repertoire; set Specific Character Set (e.g. ISO_IR 192) first");
    }

    private static bool IsAscii(string s)
    {
        foreach (var c in s) if (c > 0x7F) return false;
        return true;
    }

    private static Encoding Strict(Encoding e) => Encoding.GetEncoding(e.CodePage, EncoderFallback.ExceptionFallback, DecoderFallback.ReplacementFallback);

    private static Encoding SingleTermEncoding(string term) => term switch
    {
        "ISO_IR 6" => Ascii,
        "ISO_IR 100" => Encoding.Latin1,
        "ISO_IR 101" => Encoding.GetEncoding(28592),
        "ISO_IR 109" => Encoding.GetEncoding(28593),
        "ISO_IR 110" => Encoding.GetEncoding(28594),
        "ISO_IR 144" => Encoding.GetEncoding(28595),
        "ISO_IR 127" => Encoding.GetEncoding(28596),
        "ISO_IR 126" => Encoding.GetEncoding(28597),
        "ISO_IR 138" => Encoding.GetEncoding(28598),
        "ISO_IR 148" => Encoding.GetEncoding(28599),
        "ISO_IR 203" => Encoding.GetEncoding(28605),
        "ISO_IR 166" => Encoding.GetEncoding(874),
        "ISO_IR 13" => Encoding.GetEncoding(932),
        "ISO_IR 192" => Encoding.UTF8,
        "GB18030" => Encoding.GetEncoding(54936),
        "GBK" => Encoding.GetEncoding(936),
        _ => throw new DicomException($"Specific Character Set '{term}' is not supported"),
    };

    // ---- ISO 2022 ----

    private sealed record Iso2022Set(string Name, byte[] Escape, Encoding Encoding, int BytesPerChar, bool IsG1);

    private static readonly Iso2022Set AsciiSet = new("ISO 2022 IR 6", [0x1B, 0x28, 0x42], Ascii, 1, false);
    private static readonly Iso2022Set RomajiSet = new("ISO 2022 IR 14", [0x1B, 0x28, 0x4A], Ascii, 1, false);

    private static readonly Lazy<Iso2022Set[]> Sets = new(() =>
    [
        AsciiSet,
        RomajiSet,
        new("ISO 2022 IR 13", [0x1B, 0x29, 0x49], Encoding.GetEncoding(932), 1, true),
        new("ISO 2022 IR 87", [0x1B, 0x24, 0x42], Encoding.GetEncoding(51932), 2, false),
        new("ISO 2022 IR 159", [0x1B, 0x24, 0x28, 0x44], Encoding.GetEncoding(51932), 2, false),
        new("ISO 2022 IR 149", [0x1B, 0x24, 0x29, 0x43], Encoding.GetEncoding(51949), 2, true),
        new("ISO 2022 IR 58", [0x1B, 0x24, 0x29, 0x41], Encoding.GetEncoding(936), 2, true),
        new("ISO 2022 IR 100", [0x1B, 0x2D, 0x41], Encoding.Latin1, 1, true),
        new("ISO 2022 IR 101", [0x1B, 0x2D, 0x42], Encoding.GetEncoding(28592), 1, true),
        new("ISO 2022 IR 109", [0x1B, 0x2D, 0x43], Encoding.GetEncoding(28593), 1, true),
        new("ISO 2022 IR 110", [0x1B, 0x2D, 0x44], Encoding.GetEncoding(28594), 1, true),
        new("ISO 2022 IR 144", [0x1B, 0x2D, 0x4C], Encoding.GetEncoding(28595), 1, true),
        new("ISO 2022 IR 127", [0x1B, 0x2D, 0x47], Encoding.GetEncoding(28596), 1, true),
        new("ISO 2022 IR 126", [0x1B, 0x2D, 0x46], Encoding.GetEncoding(28597), 1, true),
        new("ISO 2022 IR 138", [0x1B, 0x2D, 0x48], Encoding.GetEncoding(28598), 1, true),
        new("ISO 2022 IR 148", [0x1B, 0x2D, 0x4D], Encoding.GetEncoding(28599), 1, true),
        new("ISO 2022 IR 203", [0x1B, 0x2D, 0x62], Encoding.GetEncoding(28605), 1, true),
        new("ISO 2022 IR 166", [0x1B, 0x2D, 0x54], Encoding.GetEncoding(874), 1, true),
    ]);

    private static Iso2022Set? Named(string term) =>
        Sets.Value.FirstOrDefault(s => s.Name == term || s.Name == term.Replace("ISO_IR", "ISO 2022 IR", StringComparison.Ordinal));

    private static (Iso2022Set G0, Iso2022Set? G1) InitialSets(string first)
    {
        if (first.Length == 0) return (AsciiSet, null);
        var set = Named(first) ?? throw new DicomException($"Specific Character Set '{first}' is not supported");
        if (set.Name == "ISO 2022 IR 13") return (RomajiSet, set);
        return set.IsG1 ? (AsciiSet, set) : (set, null);
    }

    private string DecodeIso2022(ReadOnlySpan<byte> bytes, DicomVR vr)
    {
        var sb = new StringBuilder(bytes.Length);
        Span<byte> euc = stackalloc byte[3];
        var g0 = _initialG0!;
        var g1 = _initialG1;
        var i = 0;
        while (i < bytes.Length)
        {
            var b = bytes[i];
            if (b == 0x1B)
            {
                Iso2022Set? matched = null;
                foreach (var candidate in Sets.Value)
                {
                    if (bytes[i..].StartsWith(candidate.Escape))
                    {
                        matched = candidate;
                        break;
                    }
                }
                if (matched is null)
                {
                    sb.Append('\u001B');
                    i++;
                    continue;
                }
                if (matched.IsG1) g1 = matched;
                else g0 = matched;
                i += matched.Escape.Length;
                continue;
            }
            if (b < 0x80)
            {
                if (IsResetDelimiter(b, vr) && (g0.BytesPerChar == 1 || b < 0x21))
                {
                    g0 = _initialG0!;
                    g1 = _initialG1;
                    sb.Append((char)b);
                    i++;
                    continue;
                }
                if (g0.BytesPerChar == 2 && b >= 0x21 && i + 1 < bytes.Length)
                {
                    // 7-bit two-byte sets (JIS X 0208/0212) decode as their EUC form: both bytes with the high bit set.
                    var n = 0;
                    if (g0.Name == "ISO 2022 IR 159") euc[n++] = 0x8F;
                    euc[n++] = (byte)(b | 0x80);
                    euc[n++] = (byte)(bytes[i + 1] | 0x80);
                    sb.Append(g0.Encoding.GetString(euc[..n]));
                    i += 2;
                    continue;
                }
                sb.Append((char)b);
                i++;
                continue;
            }
            var start = i;
            while (i < bytes.Length && bytes[i] >= 0x80) i++;
            var run = bytes[start..i];
            sb.Append((g1?.Encoding ?? Encoding.Latin1).GetString(run));
        }
        return sb.ToString();
    }

    private static bool IsResetDelimiter(byte b, DicomVR vr) =>
        b is 0x0D or 0x0A or 0x0C or 0x09 || (b == (byte)'\\' && vr.IsMultiValueString) || (vr == DicomVR.PN && b is (byte)'^' or (byte)'=');

    /// <summary>
    /// ISO 2022 encoding, character by character: each non-ASCII character goes in the first declared set that has
    /// it, announced by that set's escape sequence when it is not already designated. Before a delimiter (and at the
    /// end) a two-byte G0 set is switched back to the initial one, and after it the decoder resets both G0 and G1
    /// (PS3.5 §6.1.2.5.3), so the encoder assumes the same.
    /// </summary>
    private byte[] EncodeIso2022(string text, DicomVR vr)
    {
        // The ASCII and Romaji G0 sets hold nothing above 0x7F (their decoder is Latin-1 only for leniency).
        var candidates = Terms.Select(Named).Where(set => set is not null && set != AsciiSet && set != RomajiSet).Select(set => set!).ToList();
        var output = new List<byte>(text.Length * 2);
        var g0 = _initialG0!;
        var g1 = _initialG1;
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.Value < 0x80)
            {
                if (g0.BytesPerChar == 2)
                {
                    output.AddRange(_initialG0!.Escape);
                    g0 = _initialG0;
                }
                output.Add((byte)rune.Value);
                if (IsResetDelimiter((byte)rune.Value, vr))
                {
                    g0 = _initialG0!;
                    g1 = _initialG1;
                }
                continue;
            }
            var (set, bytes) = EncodeInSomeSet(rune.ToString(), candidates)
                ?? throw new DicomValueException($"'{rune}' in '{text}' cannot be encoded in Specific Character Set {string.Join('\\', Terms)}");
            if (set.IsG1 ? set != g1 : set != g0) output.AddRange(set.Escape);
            if (set.IsG1) g1 = set;
            else g0 = set;
            output.AddRange(bytes);
        }
        if (g0 != _initialG0) output.AddRange(_initialG0!.Escape);
        return output.ToArray();
    }

    /// <summary>The bytes of one character in the first set that holds it: 8-bit for G1 sets, 7-bit pairs for two-byte G0 sets.</summary>
    private static (Iso2022Set Set, byte[] Bytes)? EncodeInSomeSet(string character, List<Iso2022Set> candidates)
    {
        foreach (var set in candidates)
        {
            byte[] bytes;
            try
            {
                bytes = Strict(set.Encoding).GetBytes(character);
            }
            catch (EncoderFallbackException)
            {
                continue;
            }
            if (set.Name == "ISO 2022 IR 159")
            {
                // EUC-JP puts JIS X 0212 behind the single shift 0x8F.
                if (bytes is [0x8F, >= 0xA1, >= 0xA1]) return (set, [(byte)(bytes[1] & 0x7F), (byte)(bytes[2] & 0x7F)]);
                continue;
            }
            // Each set's encoding also holds characters of other sets (Shift-JIS has kanji, EUC-JP has katakana
            // behind 0x8E): only the set's own code range counts.
            if (bytes.Length != set.BytesPerChar || bytes.Any(b => b < (set.BytesPerChar == 1 ? 0xA0 : 0xA1))) continue;
            return set.IsG1 ? (set, bytes) : (set, bytes.Select(b => (byte)(b & 0x7F)).ToArray());
        }
        return null;
    }
}
