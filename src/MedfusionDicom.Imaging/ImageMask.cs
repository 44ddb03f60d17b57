using MedfusionDicom.Dicom;

namespace MedfusionDicom.Imaging;

/// <summary>Inpainting masks: one bool per pixel, row-major, true where the pixel is unknown (to be generated).</summary>
public static class ImageMask
{
    /// <summary>A rectangle of unknown pixels.</summary>
    public static bool[] Box(int width, int height, int x, int y, int w, int h)
    {
        if (w <= 0 || h <= 0 || x < 0 || y < 0 || x + w > width || y + h > height)
            throw new ImagingException($"box {x},{y},{w},{h} is not inside the {width}x{height} image");
        var mask = new bool[width * height];
        for (var j = y; j < y + h; j++)
            Array.Fill(mask, true, j * width + x, w);
        return mask;
    }

    /// <summary>The union of rectangles ([x, y, w, h] each) of unknown pixels.</summary>
    public static bool[] Boxes(int width, int height, IEnumerable<IReadOnlyList<int>> boxes)
    {
        var mask = new bool[width * height];
        foreach (var box in boxes)
        {
            if (box.Count != 4) throw new ImagingException($"a box is [x, y, w, h], not {box.Count} numbers");
            var one = Box(width, height, box[0], box[1], box[2], box[3]);
            for (var i = 0; i < mask.Length; i++) mask[i] |= one[i];
        }

        return mask;
    }

    /// <summary>The mask's pixels inside a window of the image (row-major within the window).</summary>
    public static bool[] Crop(bool[] mask, int width, int x, int y, int w, int h)
    {
        var result = new bool[w * h];
        for (var j = 0; j < h; j++) Array.Copy(mask, (y + j) * width + x, result, j * w, w);
        return result;
    }

    public static bool AnyUnknown(ReadOnlySpan<bool> mask) => mask.Contains(true);

    /// <summary>
    /// The pixels that the instance's first overlay plane (group 6000: a burned-in annotation's outline, say) sets, or
    /// null when the instance has no Overlay Data (6000,3000). The plane is a bit plane (Overlay Bits Allocated 1) of
    /// Overlay Rows x Columns bits, placed at Overlay Origin (1-based row, column; default 1\1); bits outside the image
    /// are dropped. An overlay that cannot be read is an error, not an empty mask.
    /// </summary>
    public static bool[]? FromOverlay(DicomDataset dataset, int width, int height)
    {
        if (!dataset.Contains(DicomTag.OverlayData)) return null;
        if (!dataset.TryGetSingleValue<ushort>(DicomTag.OverlayRows, out var rows) || !dataset.TryGetSingleValue<ushort>(DicomTag.OverlayColumns, out var columns))
            throw new ImagingException("the overlay plane (6000,3000) has no Overlay Rows (6000,0010) or Overlay Columns (6000,0011)");
        var bitsAllocated = dataset.GetSingleValueOrDefault<ushort>(DicomTag.OverlayBitsAllocated, 1);
        if (bitsAllocated != 1)
            throw new ImagingException($"the overlay plane (6000,3000) has Overlay Bits Allocated {bitsAllocated}; only separate bit planes (1) are read");
        var origin = dataset.Contains(DicomTag.OverlayOrigin) ? dataset.GetValues<short>(DicomTag.OverlayOrigin) : [1, 1];
        if (origin.Length != 2) throw new ImagingException($"Overlay Origin (6000,0050) has {origin.Length} values; it needs row and column");
        var bits = dataset.GetBuffer(DicomTag.OverlayData).Memory.Span;
        var count = rows * columns;
        if (bits.Length * 8L < count)
            throw new ImagingException($"Overlay Data (6000,3000) has {bits.Length} bytes; {rows}x{columns} bits need {(count + 7) / 8}");
        var mask = new bool[width * height];
        for (var r = 0; r < rows; r++)
        {
            var y = r + origin[0] - 1;
            if (y < 0 || y >= height) continue;
            for (var c = 0; c < columns; c++)
            {
                var x = c + origin[1] - 1;
                var bit = r * columns + c;
                // PS3.5 8.1.2: the first pixel is the least significant bit of the first byte.
                if (x >= 0 && x < width && ((bits[bit >> 3] >> (bit & 7)) & 1) == 1) mask[y * width + x] = true;
            }
        }

        return mask;
    }

    /// <summary>A mask the models can work with: something to fill and something to fill it from.</summary>
    public static void Validate(ReadOnlySpan<bool> mask, int width, int height, string what = "mask")
    {
        if (mask.Length != width * height)
            throw new ImagingException($"the {what} has {mask.Length} pixels; the {width}x{height} image has {width * height}");
        if (!mask.Contains(true)) throw new ImagingException($"the {what} marks no pixel to inpaint (it is all zero)");
        if (!mask.Contains(false)) throw new ImagingException($"the {what} covers the whole image: nothing is known to inpaint from");
    }
}
