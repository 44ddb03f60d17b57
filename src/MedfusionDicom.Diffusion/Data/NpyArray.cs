using System.Globalization;
using System.IO.MemoryMappedFiles;
using System.Text;
using System.Text.RegularExpressions;

namespace MedfusionDicom.Diffusion.Data;

/// <summary>Thrown for .npy files we cannot read, with the reason.</summary>
public sealed class NpyFormatException(string message) : Exception(message);

/// <summary>
/// A NumPy .npy array (format 1.0/2.0/3.0), memory-mapped: the training sets are hundreds of MB and only the
/// images of a batch are touched. Little-endian, C-order only (what NumPy writes by default).
/// </summary>
public sealed partial class NpyArray : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;

    private NpyArray(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, string dtype, long[] shape, long dataOffset)
    {
        Path = path;
        _map = map;
        _view = view;
        DType = dtype;
        Shape = shape;
        DataOffset = dataOffset;
    }

    public string Path { get; }
    /// <summary>NumPy's type string without byte order, e.g. "u1", "f4".</summary>
    public string DType { get; }
    public long[] Shape { get; }
    public long DataOffset { get; }
    public int ItemSize => DType[1] - '0';
    public long Count => Shape.Aggregate(1L, (a, b) => a * b);

    public static NpyArray Open(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        Span<byte> head = stackalloc byte[12];
        if (fs.Read(head) < 10 || head[0] != 0x93 || Encoding.ASCII.GetString(head[1..6]) != "NUMPY")
            throw new NpyFormatException($"{path}: not a .npy file (no \\x93NUMPY magic)");
        var major = head[6];
        int headerLength, headerStart;
        if (major == 1)
        {
            headerLength = head[8] | head[9] << 8;
            headerStart = 10;
        }
        else if (major is 2 or 3)
        {
            headerLength = (int)BitConverter.ToUInt32(head[8..12]);
            headerStart = 12;
        }
        else throw new NpyFormatException($"{path}: .npy format version {major} is not supported");
        if (headerLength <= 0 || headerStart + headerLength > fs.Length) throw new NpyFormatException($"{path}: header length {headerLength} is invalid");
        var header = new byte[headerLength];
        fs.Position = headerStart;
        fs.ReadExactly(header);
        var text = Encoding.Latin1.GetString(header);
        var descr = DescrPattern().Match(text);
        var shape = ShapePattern().Match(text);
        if (!descr.Success || !shape.Success) throw new NpyFormatException($"{path}: header has no descr/shape: {text.Trim()}");
        if (text.Contains("'fortran_order': True", StringComparison.Ordinal)) throw new NpyFormatException($"{path}: Fortran-order arrays are not supported");
        var type = descr.Groups[1].Value;
        if (type[0] == '>') throw new NpyFormatException($"{path}: big-endian arrays are not supported");
        var dtype = type.TrimStart('<', '|', '=');
        if (dtype is not ("u1" or "i1" or "u2" or "i2" or "f4" or "f8" or "i4" or "i8")) throw new NpyFormatException($"{path}: dtype {type} is not supported");
        var dims = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => long.Parse(d, CultureInfo.InvariantCulture)).ToArray();
        var dataOffset = headerStart + headerLength;
        var expected = dataOffset + dims.Aggregate(1L, (a, b) => a * b) * (dtype[1] - '0');
        if (fs.Length < expected) throw new NpyFormatException($"{path}: {fs.Length} bytes, but the header describes {expected}");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        return new NpyArray(path, map, view, dtype, dims, dataOffset);
    }

    /// <summary>Copies the bytes of item <paramref name="index"/> along the first axis (e.g. one image).</summary>
    public void ReadItem(long index, Span<byte> destination)
    {
        if (Shape.Length == 0 || index < 0 || index >= Shape[0]) throw new ArgumentOutOfRangeException(nameof(index), $"item {index} is outside 0..{(Shape.Length > 0 ? Shape[0] - 1 : -1)}");
        var itemBytes = Count / Shape[0] * ItemSize;
        if (destination.Length != itemBytes) throw new ArgumentException($"destination holds {destination.Length} bytes, an item has {itemBytes}");
        unsafe
        {
            byte* ptr = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
            try
            {
                new ReadOnlySpan<byte>(ptr + _view.PointerOffset + DataOffset + index * itemBytes, (int)itemBytes).CopyTo(destination);
            }
            finally
            {
                _view.SafeMemoryMappedViewHandle.ReleasePointer();
            }
        }
    }

    public void Dispose()
    {
        _view.Dispose();
        _map.Dispose();
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']+)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
