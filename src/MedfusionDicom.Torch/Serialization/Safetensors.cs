using System.IO.MemoryMappedFiles;
using System.Text;
using System.Text.Json;
using static MedfusionDicom.Torch.torch;

namespace MedfusionDicom.Torch.Serialization;

/// <summary>One tensor entry of a safetensors header.</summary>
public sealed record SafetensorsEntry(string Name, ScalarType DType, long[] Shape, long Begin, long End);

/// <summary>
/// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length,
/// a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {..}}, then the raw little-endian data.
/// Reading maps the file into memory and copies each tensor once, straight from the mapping.
/// </summary>
public static class Safetensors
{
    private const long MaxHeader = 100L << 20;

    private static readonly Dictionary<string, ScalarType> DTypes = new()
    {
        ["F64"] = ScalarType.Float64, ["F32"] = ScalarType.Float32, ["F16"] = ScalarType.Float16, ["BF16"] = ScalarType.BFloat16,
        ["I64"] = ScalarType.Int64, ["I32"] = ScalarType.Int32, ["I16"] = ScalarType.Int16, ["I8"] = ScalarType.Int8,
        ["U8"] = ScalarType.Byte, ["BOOL"] = ScalarType.Bool,
    };

    private static string Code(ScalarType t) => DTypes.FirstOrDefault(kv => kv.Value == t).Key
        ?? throw new TorchException($"safetensors: dtype {t} cannot be stored");

    /// <summary>Loads every tensor (or those whose name passes filter) onto the CPU.</summary>
    public static Dictionary<string, Tensor> Load(string path, Func<string, bool>? filter = null)
    {
        using var file = Open(path, out long length);
        using var view = file.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        unsafe
        {
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            try
            {
                p += view.PointerOffset;
                var (entries, _, dataStart) = ParseHeader(new ReadOnlySpan<byte>(p, (int)Math.Min(length, 8 + MaxHeader)), length, path);
                var result = new Dictionary<string, Tensor>();
                try
                {
                    foreach (var e in entries)
                    {
                        if (filter is not null && !filter(e.Name)) continue;
                        var bytes = new ReadOnlySpan<byte>(p + dataStart + e.Begin, checked((int)(e.End - e.Begin)));
                        result[e.Name] = FromBytes(bytes, e.DType, e.Shape);
                    }
                }
                catch
                {
                    foreach (var t in result.Values) t.Dispose();
                    throw;
                }
                return result;
            }
            finally
            {
                view.SafeMemoryMappedViewHandle.ReleasePointer();
            }
        }
    }

    /// <summary>The header's entries and metadata, without reading any tensor data.</summary>
    public static (IReadOnlyList<SafetensorsEntry> entries, IReadOnlyDictionary<string, string> metadata) ReadHeader(string path)
    {
        using var fs = OpenStream(path);
        var prefix = new byte[(int)Math.Min(fs.Length, 8 + MaxHeader)];
        fs.ReadExactly(prefix);
        var (entries, metadata, _) = ParseHeader(prefix, fs.Length, path);
        return (entries, metadata);
    }

    private static FileStream OpenStream(string path)
    {
        try { return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            throw new TorchException($"safetensors: cannot open {path}: {e.Message}", e);
        }
    }

    private static MemoryMappedFile Open(string path, out long length)
    {
        using var fs = OpenStream(path);
        length = fs.Length;
        if (length < 8) throw new TorchException($"safetensors: {path} is too short ({length} bytes) to hold a header");
        return MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
    }

    private static (List<SafetensorsEntry>, Dictionary<string, string>, long dataStart) ParseHeader(ReadOnlySpan<byte> file, long fileLength, string path)
    {
        if (fileLength < 8) throw new TorchException($"safetensors: {path} is too short ({fileLength} bytes) to hold a header");
        ulong n = BitConverter.ToUInt64(file[..8]);
        if (n > (ulong)MaxHeader || (long)n > fileLength - 8)
            throw new TorchException($"safetensors: {path}: header length {n} is larger than the file ({fileLength} bytes) or the 100 MiB limit");
        var entries = new List<SafetensorsEntry>();
        var metadata = new Dictionary<string, string>();
        long dataLength = fileLength - 8 - (long)n;
        try
        {
            using var doc = JsonDocument.Parse(file.Slice(8, (int)n).ToArray());
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new TorchException("the header is not a JSON object");
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    foreach (var m in prop.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString() ?? "";
                    continue;
                }
                var v = prop.Value;
                string dt = v.GetProperty("dtype").GetString() ?? "";
                if (!DTypes.TryGetValue(dt, out var dtype)) throw new TorchException($"tensor {prop.Name}: unsupported dtype \"{dt}\"");
                var shape = v.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
                if (shape.Any(d => d < 0)) throw new TorchException($"tensor {prop.Name}: negative dimension in shape [{string.Join(", ", shape)}]");
                var off = v.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
                if (off.Length != 2 || off[0] < 0 || off[1] < off[0] || off[1] > dataLength)
                    throw new TorchException($"tensor {prop.Name}: data_offsets [{string.Join(", ", off)}] lie outside the {dataLength} data bytes");
                long need = shape.Aggregate(1L, (a, b) => checked(a * b)) * ElementSize(dtype);
                if (off[1] - off[0] != need)
                    throw new TorchException($"tensor {prop.Name}: {off[1] - off[0]} data bytes, but shape [{string.Join(", ", shape)}] of {dt} needs {need}");
                entries.Add(new SafetensorsEntry(prop.Name, dtype, shape, off[0], off[1]));
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException or OverflowException or TorchException)
        {
            throw new TorchException($"safetensors: {path}: invalid header: {e.Message}", e);
        }
        var sorted = entries.OrderBy(e => e.Begin).ToList();
        for (int k = 1; k < sorted.Count; k++)
            if (sorted[k].Begin < sorted[k - 1].End)
                throw new TorchException($"safetensors: {path}: tensors {sorted[k - 1].Name} and {sorted[k].Name} overlap");
        return (entries, metadata, 8 + (long)n);
    }

    /// <summary>Writes the tensors (any device; copied to the CPU) with optional string metadata.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var names = tensors.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
        var header = new Dictionary<string, object>();
        if (metadata is not null && metadata.Count > 0) header["__metadata__"] = metadata;
        long offset = 0;
        var sizes = new List<long>();
        foreach (var n in names)
        {
            var t = tensors[n];
            long size = t.numel() * ElementSize(t.dtype);
            header[n] = new { dtype = Code(t.dtype), shape = t.shape, data_offsets = new[] { offset, offset + size } };
            sizes.Add(size);
            offset += size;
        }
        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        int pad = (8 - json.Length % 8) % 8;
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        fs.Write(BitConverter.GetBytes((ulong)(json.Length + pad)));
        fs.Write(json);
        fs.Write(Encoding.ASCII.GetBytes(new string(' ', pad)));
        var buffer = Array.Empty<byte>();
        for (int k = 0; k < names.Count; k++)
        {
            if (buffer.Length < sizes[k]) buffer = new byte[sizes[k]];
            var span = buffer.AsSpan(0, checked((int)sizes[k]));
            tensors[names[k]].CopyBytesTo(span);
            fs.Write(span);
        }
    }
}
