using System.Collections;

namespace MedfusionDicom.Grpc;

/// <summary>
/// Custom headers or trailers of a call. Keys are lower-case; a key ending in "-bin" carries bytes
/// (base64 on the wire), any other key carries printable ASCII.
/// </summary>
public sealed class Metadata : IEnumerable<Metadata.Entry>
{
    public const string BinaryKeySuffix = "-bin";

    private readonly List<Entry> entries = [];

    public int Count => entries.Count;

    public Metadata Add(string key, string value)
    {
        entries.Add(new Entry(key, value));
        return this;
    }

    public Metadata Add(string key, byte[] value)
    {
        entries.Add(new Entry(key, value));
        return this;
    }

    public void Add(Entry entry) => entries.Add(entry);

    /// <summary>The first entry with this key, or null.</summary>
    public Entry? Get(string key)
    {
        var normalized = key.ToLowerInvariant();
        return entries.Find(e => e.Key == normalized);
    }

    public string? GetValue(string key) => Get(key)?.Value;

    public byte[]? GetValueBytes(string key) => Get(key)?.ValueBytes;

    public IEnumerable<Entry> GetAll(string key)
    {
        var normalized = key.ToLowerInvariant();
        return entries.Where(e => e.Key == normalized);
    }

    public IEnumerator<Entry> GetEnumerator() => entries.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public static bool IsBinaryKey(string key) => key.EndsWith(BinaryKeySuffix, StringComparison.OrdinalIgnoreCase);

    public sealed class Entry
    {
        private readonly string? text;
        private readonly byte[]? bytes;

        public Entry(string key, string value)
        {
            Key = NormalizeKey(key);
            if (IsBinary)
            {
                throw new ArgumentException($"Key '{key}' ends in '{BinaryKeySuffix}' and needs a byte[] value.", nameof(key));
            }

            ArgumentNullException.ThrowIfNull(value);
            foreach (var c in value)
            {
                // HTTP/2 header values of gRPC ASCII metadata are printable ASCII only.
                if (c < 0x20 || c > 0x7E)
                {
                    throw new ArgumentException($"Value of '{key}' has a character outside printable ASCII.", nameof(value));
                }
            }

            text = value;
        }

        public Entry(string key, byte[] value)
        {
            Key = NormalizeKey(key);
            if (!IsBinary)
            {
                throw new ArgumentException($"Key '{key}' needs the '{BinaryKeySuffix}' suffix to carry bytes.", nameof(key));
            }

            bytes = value ?? throw new ArgumentNullException(nameof(value));
        }

        public string Key { get; }

        public bool IsBinary => Key.EndsWith(BinaryKeySuffix, StringComparison.Ordinal);

        public string Value => text ?? throw new InvalidOperationException($"'{Key}' is a binary entry; read ValueBytes.");

        public byte[] ValueBytes => bytes ?? throw new InvalidOperationException($"'{Key}' is an ASCII entry; read Value.");

        public override string ToString() => IsBinary ? $"{Key}: [{bytes!.Length} bytes]" : $"{Key}: {text}";

        private static string NormalizeKey(string key)
        {
            ArgumentException.ThrowIfNullOrEmpty(key);
            var normalized = key.ToLowerInvariant();
            foreach (var c in normalized)
            {
                if (!(c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '_' or '.'))
                {
                    throw new ArgumentException($"Metadata key '{key}' may only hold 0-9 a-z _ - and '.'.", nameof(key));
                }
            }

            return normalized;
        }
    }
}
