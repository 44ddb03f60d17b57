using System.IO.Compression;
using static TorchSharp.torch;
using static MedfusionDicom.Torch.Serialization.TensorBytes;

namespace MedfusionDicom.Torch.Serialization;

/// <summary>
/// Reads files written by <c>torch.save</c> (the zip format of PyTorch ≥ 1.6: <c>*/data.pkl</c> plus one entry per
/// storage), including PyTorch Lightning checkpoints. Nothing in the file is executed: see <see cref="Unpickler"/>.
/// </summary>
public static class PyTorchCheckpoint
{
    private static readonly Dictionary<string, ScalarType> StorageTypes = new()
    {
        ["FloatStorage"] = ScalarType.Float32, ["DoubleStorage"] = ScalarType.Float64, ["HalfStorage"] = ScalarType.Float16,
        ["BFloat16Storage"] = ScalarType.BFloat16, ["LongStorage"] = ScalarType.Int64, ["IntStorage"] = ScalarType.Int32,
        ["ShortStorage"] = ScalarType.Int16, ["CharStorage"] = ScalarType.Int8, ["ByteStorage"] = ScalarType.Byte,
        ["BoolStorage"] = ScalarType.Bool,
    };

    /// <summary>The whole pickled object: dicts as Dictionary&lt;object, object?&gt;, lists as List&lt;object?&gt;, tuples as
    /// object?[], numbers as long/double/BigInteger, tensors as CPU tensors, other Python objects as <see cref="PickleObject"/>.</summary>
    public static object? Load(string path)
    {
        ZipArchive zip;
        try
        {
            var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            var magic = new byte[4];
            int n = fs.Read(magic);
            fs.Position = 0;
            if (n < 4 || magic[0] != (byte)'P' || magic[1] != (byte)'K')
            {
                fs.Dispose();
                throw new TorchException(n > 0 && magic[0] == 0x80
                    ? $"{path}: legacy (pre-1.6) torch.save format is not supported; re-save it with a current PyTorch"
                    : $"{path}: not a PyTorch checkpoint (expected a zip archive written by torch.save)");
            }
            zip = new ZipArchive(fs, ZipArchiveMode.Read);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new TorchException($"cannot read PyTorch checkpoint {path}: {e.Message}", e);
        }
        using (zip)
        {
            var pkl = zip.Entries.Where(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal))
                .OrderBy(e => e.FullName.Length).FirstOrDefault()
                ?? throw new TorchException($"{path}: no data.pkl in the archive; not a torch.save file");
            string prefix = pkl.FullName[..^"data.pkl".Length];
            if (zip.GetEntry(prefix + "byteorder") is { } bo)
            {
                using var r = new StreamReader(bo.Open());
                var order = r.ReadToEnd().Trim();
                if (order != "little") throw new TorchException($"{path}: byte order \"{order}\" is not supported");
            }
            var storages = new Dictionary<string, Tensor>();
            try
            {
                var unpickler = new Unpickler(ReadAll(pkl), pid => Storage(pid, zip, prefix, storages, path), (g, args) => Reduce(g, args, path));
                return unpickler.Load();
            }
            finally
            {
                foreach (var s in storages.Values) s.Dispose(); // tensors are views that keep their data alive
            }
        }
    }

    /// <summary>
    /// A state dict: the file's top-level dict of tensors, or its "state_dict" entry (Lightning), or the entry
    /// named key. stripPrefix removes a leading prefix such as "model." from the names.
    /// </summary>
    public static Dictionary<string, Tensor> LoadStateDict(string path, string? key = null, string? stripPrefix = null)
    {
        var root = Load(path);
        var all = new List<Tensor>();
        Collect(root, all);
        object? chosen = root;
        if (key is not null)
        {
            if (root is not Dictionary<object, object?> d || !d.TryGetValue(key, out chosen))
                throw new TorchException($"{path}: no entry \"{key}\" at the top level (keys: {TopKeys(root)})");
        }
        else if (root is Dictionary<object, object?> d && d.TryGetValue("state_dict", out var sd) && sd is Dictionary<object, object?>)
        {
            chosen = sd;
        }
        if (chosen is not Dictionary<object, object?> dict || dict.Count == 0 || !dict.Values.All(v => v is Tensor))
        {
            foreach (var t in all) t.Dispose();
            throw new TorchException($"{path}: {(key is null ? "the top level" : $"entry \"{key}\"")} is not a state dict of tensors (keys: {TopKeys(chosen)})");
        }
        var result = new Dictionary<string, Tensor>();
        foreach (var (k, v) in dict)
        {
            var name = k.ToString()!;
            if (stripPrefix is not null && name.StartsWith(stripPrefix, StringComparison.Ordinal)) name = name[stripPrefix.Length..];
            result[name] = (Tensor)v!;
        }
        var kept = new HashSet<Tensor>(result.Values, ReferenceEqualityComparer.Instance);
        foreach (var t in all) if (!kept.Contains(t)) t.Dispose();
        return result;
    }

    private static string TopKeys(object? o) => o is Dictionary<object, object?> d ? string.Join(", ", d.Keys.Take(20)) : o?.GetType().Name ?? "None";

    private static void Collect(object? o, List<Tensor> into)
    {
        switch (o)
        {
            case Tensor t: into.Add(t); break;
            case Dictionary<object, object?> d: foreach (var v in d.Values) Collect(v, into); break;
            case List<object?> l: foreach (var v in l) Collect(v, into); break;
            case object?[] a: foreach (var v in a) Collect(v, into); break;
            case PickleObject p:
                foreach (var v in p.Args) Collect(v, into);
                Collect(p.State, into);
                foreach (var v in p.Items.Values) Collect(v, into);
                foreach (var v in p.List) Collect(v, into);
                break;
        }
    }

    private static byte[] ReadAll(ZipArchiveEntry e)
    {
        var buf = new byte[e.Length];
        using var s = e.Open();
        s.ReadExactly(buf);
        return buf;
    }

    private sealed record StorageRef(Tensor Flat);

    private static object Storage(object? pid, ZipArchive zip, string prefix, Dictionary<string, Tensor> cache, string path)
    {
        if (pid is not object?[] { Length: >= 5 } t || t[0] as string != "storage")
            throw new TorchException($"{path}: unsupported persistent id {pid}");
        var type = t[1] as PickleGlobal ?? throw new TorchException($"{path}: storage type missing");
        if (!StorageTypes.TryGetValue(type.Name, out var dtype))
            throw new TorchException($"{path}: unsupported storage type {type}");
        var key = t[2]?.ToString() ?? throw new TorchException($"{path}: storage key missing");
        if (!cache.TryGetValue(key, out var flat))
        {
            var entry = zip.GetEntry($"{prefix}data/{key}") ?? throw new TorchException($"{path}: storage data/{key} is missing from the archive");
            var bytes = ReadAll(entry);
            long numel = bytes.Length / ElementSize(dtype);
            flat = FromBytes(bytes, dtype, [numel]).DetachFromDisposeScope();
            cache[key] = flat;
        }
        return new StorageRef(flat);
    }

    private static object? Reduce(PickleGlobal g, object?[] args, string path)
    {
        switch ($"{g.Module}.{g.Name}")
        {
            case "collections.OrderedDict":
            case "collections.defaultdict":
            case "builtins.dict":
                return new Dictionary<object, object?>();
            case "torch._utils._rebuild_tensor":
            case "torch._utils._rebuild_tensor_v2":
                {
                    if (args.Length < 4 || args[0] is not StorageRef s) throw new TorchException($"{path}: malformed tensor record");
                    var size = Longs(args[2]);
                    var stride = Longs(args[3]);
                    return s.Flat.as_strided(size, stride, Convert.ToInt64(args[1], System.Globalization.CultureInfo.InvariantCulture));
                }
            case "torch._utils._rebuild_parameter":
            case "torch._utils._rebuild_parameter_with_state":
                return args.Length > 0 && args[0] is Tensor p ? p : throw new TorchException($"{path}: malformed parameter record");
            case "torch.Size":
                return args.Length > 0 ? args[0] : Array.Empty<object?>();
            case "torch.device":
                return string.Join(":", args);
            case "_codecs.encode":
                return args.Length > 0 && args[0] is string str ? System.Text.Encoding.Latin1.GetBytes(str) : Array.Empty<byte>();
            case "builtins.set":
            case "builtins.frozenset":
                return new HashSet<object?>(args.Length > 0 && args[0] is List<object?> l ? l : []);
        }
        if (g.Module == "torch._utils" && g.Name.StartsWith("_rebuild", StringComparison.Ordinal))
            throw new TorchException($"{path}: tensors rebuilt by {g} (quantized, sparse or subclassed tensors) are not supported");
        return new PickleObject(g.Module, g.Name) { Args = args };
    }

    private static long[] Longs(object? o) => o switch
    {
        object?[] a => a.Select(x => Convert.ToInt64(x, System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
        List<object?> l => l.Select(x => Convert.ToInt64(x, System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
        _ => throw new TorchException($"expected a tuple of integers, got {o?.GetType().Name ?? "None"}"),
    };
}
