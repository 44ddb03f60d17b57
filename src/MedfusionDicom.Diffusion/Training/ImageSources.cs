using MedfusionDicom.Dicom;
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
    public void Dispose() => _data.Dispose();

    internal static int IndexOf(IReadOnlyList<string> labels, string label)
    {
        for (int k = 0; k < labels.Count; k++) if (labels[k] == label) return k;
        throw new FormatException($"unknown label '{label}'");
    }
}

/// <summary>
/// A folder of DICOM files with a labels CSV (file,label; file relative to the folder). Each image's first frame goes
/// through the imaging path (Modality LUT, MONOCHROME1, the model's intensity convention) and is resized (bilinear) to
/// Size x Size; images are decoded once and cached.
/// </summary>
public sealed class DicomFolderImageSource : IImageSource
{
    private readonly List<(string File, string Label)> _items = new();
    private readonly Dictionary<int, float[]> _cache = new();
    private readonly string _root;
    private readonly IntensityNormalization _intensity;

    public DicomFolderImageSource(string folder, string labelsCsv, int size, IntensityNormalization intensity)
    {
        _root = folder;
        _intensity = intensity;
        Size = size;
        foreach (var line in File.ReadLines(labelsCsv).Skip(1))
        {
            if (line.Length == 0) continue;
            var c = line.Split(',');
            if (c.Length < 2) throw new FormatException($"{labelsCsv}: bad line '{line}' (expected file,label)");
            _items.Add((c[0].Trim(), c[1].Trim()));
        }
        if (_items.Count == 0) throw new FormatException($"{labelsCsv}: no images");
        Labels = _items.Select(x => x.Label).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
    }

    public int Count => _items.Count;
    public int Size { get; }
    public IReadOnlyList<string> Labels { get; }
    public int Label(int i) => NpyImageSource.IndexOf(Labels, _items[i].Label);

    public float[] Read(int i)
    {
        if (_cache.TryGetValue(i, out var hit)) return hit;
        var source = SourceImage.Open(DicomFile.Open(Path.Combine(_root, _items[i].File)).Dataset);
        var values = source.ModalityValues(0);
        var image = _intensity.WindowFor(values, source.IsMonochrome1, source.Encoding.Range).ToModel(values, source.Width, source.Height);
        return _cache[i] = ImageResize.Bilinear(image, Size, Size).Data;
    }

    public void Dispose() => _cache.Clear();
}
