using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.IO;
using MedfusionDicom.Diffusion.Data;
using MedfusionDicom.Imaging;

namespace MedfusionDicom.Diffusion.Training;

/// <summary>Training images: single-channel, square, in [-1, 1], each with a class index into Labels.</summary>
public interface IImageSource : IDisposable
{
    int Count { get; }
    int Size { get; }
    IReadOnlyList<string> Labels { get; }
    float[] Read(int i);
    int Label(int i);

    /// <summary>Where image <paramref name="i"/> comes from, for a person to find it (a file, a row).</summary>
    string Describe(int i) => $"image {i}";
}

/// <summary>One split of the .npy chest radiograph set (cxr64.npy / cxr128.npy with labels.csv), under a model's intensity convention.</summary>
public sealed class NpyImageSource : IImageSource
{
    private readonly CxrDataset _data;
    private readonly IReadOnlyList<CxrRecord> _records;
    private readonly IntensityNormalization _intensity;

    public NpyImageSource(string npyPath, IntensityNormalization intensity, string split = "train")
    {
        _data = CxrDataset.Open(npyPath);
        if (_data.Width != _data.Height) throw new FormatException($"{npyPath}: images must be square");
        _records = _data.Split(split);
        _intensity = intensity;
        Labels = _data.Labels;
    }

    public int Count => _records.Count;
    public int Size => _data.Width;
    public IReadOnlyList<string> Labels { get; }
    public float[] Read(int i) => _data.ReadImage(_records[i].Index, _intensity).Data;
    public int Label(int i) => IndexOf(Labels, _records[i].Label);
    public string Describe(int i) => $"row {_records[i].Index} of labels.csv ({_records[i].SourceFile})";
    public void Dispose() => _data.Dispose();

    internal static int IndexOf(IReadOnlyList<string> labels, string label)
    {
        for (int k = 0; k < labels.Count; k++) if (labels[k] == label) return k;
        throw new FormatException($"unknown label '{label}'");
    }
}

/// <summary>
/// A folder of DICOM files with a labels CSV (file,label; file relative to the folder). Every frame of every file is a
/// training image with its file's label (a 16-frame MR gives 16), through the imaging path (Modality LUT, MONOCHROME1,
/// the model's intensity convention) and resized (bilinear) to Size x Size. The frame counts are read from the headers
/// up front; a file's frames are decoded together when the first of them is asked for, and cached.
/// </summary>
public sealed class DicomFolderImageSource : IImageSource
{
    private readonly List<(string File, int Frame, int Frames, string Label)> _items = new();
    private readonly Dictionary<int, float[]> _cache = new();
    private readonly string _root;
    private readonly IntensityNormalization _intensity;

    public DicomFolderImageSource(string folder, string labelsCsv, int size, IntensityNormalization intensity)
    {
        _root = folder;
        _intensity = intensity;
        Size = size;
        var headerOnly = new DicomReaderOptions { StopBeforeTag = DicomTag.PixelData };
        foreach (var line in File.ReadLines(labelsCsv).Skip(1))
        {
            if (line.Length == 0) continue;
            var c = line.Split(',');
            if (c.Length < 2) throw new FormatException($"{labelsCsv}: bad line '{line}' (expected file,label)");
            var file = c[0].Trim();
            var header = DicomFile.Open(Path.Combine(folder, file), headerOnly).Dataset;
            var frames = header.GetSingleValueOrDefault(DicomTag.NumberOfFrames, 1);
            if (frames < 1) throw new FormatException($"{Path.Combine(folder, file)}: Number of Frames (0028,0008) is {frames}");
            for (var f = 0; f < frames; f++) _items.Add((file, f, frames, c[1].Trim()));
        }
        if (_items.Count == 0) throw new FormatException($"{labelsCsv}: no images");
        Labels = _items.Select(x => x.Label).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
    }

    public int Count => _items.Count;
    public int Size { get; }
    public IReadOnlyList<string> Labels { get; }
    public int Label(int i) => NpyImageSource.IndexOf(Labels, _items[i].Label);

    /// <summary>Which file and frame image <paramref name="i"/> is.</summary>
    public (string File, int Frame) Origin(int i) => (_items[i].File, _items[i].Frame);

    public float[] Read(int i)
    {
        if (_cache.TryGetValue(i, out var hit)) return hit;
        var (file, frame, frames, _) = _items[i];
        var source = SourceImage.Open(DicomFile.Open(Path.Combine(_root, file)).Dataset);
        if (source.FrameCount != frames)
            throw new FormatException($"{Path.Combine(_root, file)}: {source.FrameCount} frames, where its header said {frames} when training started");
        var first = i - frame;
        for (var f = 0; f < source.FrameCount; f++)
        {
            _cache[first + f] = ImageResize.Bilinear(source.ModelImage(f, _intensity), Size, Size).Data;
        }
        return _cache[i];
    }

    public void Dispose() => _cache.Clear();
}
