using System.Globalization;
using MedfusionDicom.Diffusion.Data;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Imaging;

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

/// <summary>One split of the .npy chest radiograph set (cxr64.npy / cxr128.npy with labels.csv).</summary>
public sealed class NpyImageSource : IImageSource
{
    private readonly CxrDataset data;
    private readonly IReadOnlyList<CxrRecord> records;

    public NpyImageSource(string npyPath, string split = "train")
    {
        data = CxrDataset.Open(npyPath);
        if (data.Width != data.Height) throw new FormatException($"{npyPath}: images must be square");
        records = data.Split(split);
        Labels = data.Labels;
    }

    public int Count => records.Count;
    public int Size => data.Width;
    public IReadOnlyList<string> Labels { get; }
    public float[] Read(int i) => data.ReadImage(records[i].Index);
    public int Label(int i) => IndexOf(Labels, records[i].Label);
    public void Dispose() => data.Dispose();

    internal static int IndexOf(IReadOnlyList<string> labels, string label)
    {
        for (int k = 0; k < labels.Count; k++) if (labels[k] == label) return k;
        throw new FormatException($"unknown label '{label}'");
    }
}

/// <summary>
/// A folder of DICOM files with a labels CSV (file,label; file relative to the folder). Each image's first frame is
/// scaled by its own min..max to [-1, 1] and resized (bilinear) to Size x Size; images are decoded once and cached.
/// </summary>
public sealed class DicomFolderImageSource : IImageSource
{
    private readonly List<(string file, string label)> items = new();
    private readonly Dictionary<int, float[]> cache = new();
    private readonly string root;

    public DicomFolderImageSource(string folder, string labelsCsv, int size)
    {
        root = folder;
        Size = size;
        foreach (var line in File.ReadLines(labelsCsv).Skip(1))
        {
            if (line.Length == 0) continue;
            var c = line.Split(',');
            if (c.Length < 2) throw new FormatException($"{labelsCsv}: bad line '{line}' (expected file,label)");
            items.Add((c[0].Trim(), c[1].Trim()));
        }
        if (items.Count == 0) throw new FormatException($"{labelsCsv}: no images");
        Labels = items.Select(x => x.label).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
    }

    public int Count => items.Count;
    public int Size { get; }
    public IReadOnlyList<string> Labels { get; }
    public int Label(int i) => NpyImageSource.IndexOf(Labels, items[i].label);

    public float[] Read(int i)
    {
        if (cache.TryGetValue(i, out var hit)) return hit;
        var ds = DicomFile.Open(Path.Combine(root, items[i].file)).Dataset;
        var frame = DicomPixelData.Create(ds).ToFloat32(0);
        var img = ImageResize.ToUnitRange(frame.Data, frame.Rows, frame.Columns, frame.Channels, frame.IsInverted);
        return cache[i] = ImageResize.Bilinear(img, frame.Columns, frame.Rows, Size, Size);
    }

    public void Dispose() => cache.Clear();
}

/// <summary>Small image helpers shared by data loading and the CLI.</summary>
public static class ImageResize
{
    /// <summary>First channel, min..max mapped to [-1, 1]; MONOCHROME1 (inverted) is flipped so bright means dense.</summary>
    public static float[] ToUnitRange(float[] data, int rows, int cols, int channels, bool inverted)
    {
        var v = new float[rows * cols];
        for (int p = 0; p < v.Length; p++) v[p] = data[p * channels];
        float lo = v.Min(), hi = v.Max();
        float span = hi > lo ? hi - lo : 1;
        for (int p = 0; p < v.Length; p++)
        {
            var u = (v[p] - lo) / span * 2 - 1;
            v[p] = inverted ? -u : u;
        }
        return v;
    }

    /// <summary>Bilinear resampling with pixel centres aligned (align_corners = false).</summary>
    public static float[] Bilinear(float[] src, int w, int h, int nw, int nh)
    {
        if (w == nw && h == nh) return (float[])src.Clone();
        var dst = new float[nw * nh];
        for (int y = 0; y < nh; y++)
        {
            double sy = Math.Clamp((y + 0.5) * h / nh - 0.5, 0, h - 1);
            int y0 = (int)sy, y1 = Math.Min(y0 + 1, h - 1);
            double fy = sy - y0;
            for (int x = 0; x < nw; x++)
            {
                double sx = Math.Clamp((x + 0.5) * w / nw - 0.5, 0, w - 1);
                int x0 = (int)sx, x1 = Math.Min(x0 + 1, w - 1);
                double fx = sx - x0;
                double top = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx;
                double bot = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx;
                dst[y * nw + x] = (float)(top * (1 - fy) + bot * fy);
            }
        }
        return dst;
    }

    public static string Describe(int w, int h) => string.Create(CultureInfo.InvariantCulture, $"{w}x{h}");
}
