using System.Globalization;
using MedfusionDicom.Imaging;

namespace MedfusionDicom.Diffusion.Data;

public sealed record CxrRecord(int Index, string Split, string Label, string SourceFile);

/// <summary>
/// The chest radiograph set in ../shared/data/cxr-pneumonia: square uint8 images in an .npy file and a labels CSV
/// (index,split,label,source_file). The official split has no validation part, so one is carved out of train by a
/// fixed hash of the source file name (stable across runs and machines, stratified by nothing but chance).
/// </summary>
public sealed class CxrDataset : IDisposable
{
    private readonly NpyArray _images;

    private CxrDataset(NpyArray images, IReadOnlyList<CxrRecord> records)
    {
        _images = images;
        Records = records;
        Labels = records.Select(r => r.Label).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
    }

    public IReadOnlyList<CxrRecord> Records { get; }
    public IReadOnlyList<string> Labels { get; }
    public int Height => (int)_images.Shape[1];
    public int Width => (int)_images.Shape[2];

    /// <summary>Opens e.g. cxr128.npy with labels.csv beside it.</summary>
    public static CxrDataset Open(string npyPath, string? labelsCsv = null)
    {
        labelsCsv ??= Path.Combine(Path.GetDirectoryName(npyPath)!, "labels.csv");
        var images = NpyArray.Open(npyPath);
        if (images.Shape.Length != 3 || images.DType != "u1")
        {
            images.Dispose();
            throw new NpyFormatException($"{npyPath}: expected uint8 images of shape (N, H, W), got {images.DType} {string.Join('x', images.Shape)}");
        }
        var records = new List<CxrRecord>();
        foreach (var line in File.ReadLines(labelsCsv).Skip(1))
        {
            if (line.Length == 0) continue;
            var c = line.Split(',');
            if (c.Length < 4 || !int.TryParse(c[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var index))
                throw new FormatException($"{labelsCsv}: bad line '{line}' (expected index,split,label,source_file)");
            if (index < 0 || index >= images.Shape[0]) throw new FormatException($"{labelsCsv}: index {index} is outside the {images.Shape[0]} images");
            records.Add(new CxrRecord(index, c[1], c[2], c[3]));
        }
        return new CxrDataset(images, records);
    }

    /// <summary>Records of a split: "train" (minus validation), "val" (carved from train), or "test".</summary>
    public IReadOnlyList<CxrRecord> Split(string split, double validationFraction = 0.05) => split switch
    {
        "test" => Records.Where(r => r.Split == "test").ToList(),
        "train" => Records.Where(r => r.Split == "train" && !IsValidation(r, validationFraction)).ToList(),
        "val" => Records.Where(r => r.Split == "train" && IsValidation(r, validationFraction)).ToList(),
        _ => throw new ArgumentException($"unknown split '{split}' (train, val, test)"),
    };

    private static bool IsValidation(CxrRecord r, double fraction)
    {
        // FNV-1a of the file name: deterministic on every platform, unlike string.GetHashCode.
        var h = 2166136261u;
        foreach (var ch in r.SourceFile) h = (h ^ ch) * 16777619u;
        return h % 10000 < fraction * 10000;
    }

    /// <summary>The image in a model's space: its uint8 values under the model's intensity convention (8 bits stored).</summary>
    public Image2D ReadImage(int index, IntensityNormalization intensity)
    {
        var bytes = new byte[Height * Width];
        _images.ReadItem(index, bytes);
        var values = new float[bytes.Length];
        for (var i = 0; i < bytes.Length; i++) values[i] = bytes[i];
        return intensity.WindowFor(values, monochrome1: false, StoredRange).ToModel(values, Width, Height);
    }

    /// <summary>What uint8 images can hold.</summary>
    public static ValueRange StoredRange { get; } = ValueRange.OfStored(8, signed: false);

    public void Dispose() => _images.Dispose();
}
