using MedfusionDicom.Imaging;
using SkiaSharp;

namespace MedfusionDicom.Gateway.Cohorts;

/// <summary>
/// A PNG of a cohort's first images, one row per label in the mix's order (report.html names the rows): what a
/// reviewer looks at before reading any number.
/// </summary>
public static class ContactSheet
{
    public const int MaxPerRow = 8;
    private const int Gap = 4;

    /// <summary>Writes the sheet; images are model space ([-1, 1]) of one size, shown as 8-bit gray.</summary>
    public static void Write(string path, IReadOnlyList<(string Label, IReadOnlyList<Image2D> Images)> rows, int columns)
    {
        var first = rows.SelectMany(r => r.Images).FirstOrDefault();
        if (first is null) return;
        int w = first.Width, h = first.Height;
        var width = columns * w + (columns + 1) * Gap;
        var height = rows.Count * h + (rows.Count + 1) * Gap;
        var pixels = new byte[width * height];
        // White gaps: they part dark image edges.
        Array.Fill(pixels, (byte)255);
        for (var r = 0; r < rows.Count; r++)
            for (var c = 0; c < rows[r].Images.Count && c < columns; c++)
            {
                var image = rows[r].Images[c];
                int x0 = Gap + c * (w + Gap), y0 = Gap + r * (h + Gap);
                for (var y = 0; y < h; y++)
                    for (var x = 0; x < w; x++)
                        pixels[(y0 + y) * width + x0 + x] = (byte)Math.Clamp(Math.Round((image.Data[y * w + x] + 1) * 127.5), 0, 255);
            }
        var info = new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque);
        using var sk = SKImage.FromPixelCopy(info, pixels) ?? throw new InvalidOperationException("SkiaSharp could not take the contact sheet's pixels");
        using var png = sk.Encode(SKEncodedImageFormat.Png, 100) ?? throw new InvalidOperationException("SkiaSharp could not encode the contact sheet");
        var tmp = path + ".tmp";
        using (var file = File.Create(tmp)) png.SaveTo(file);
        File.Move(tmp, path, overwrite: true);
    }
}
