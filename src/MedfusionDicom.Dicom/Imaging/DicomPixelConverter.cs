using System.Buffers.Binary;
using System.Globalization;

namespace MedfusionDicom.Dicom.Imaging;

/// <summary>
/// A frame as float32 samples, interleaved (row-major, channels last: H x W x C) whatever the planar configuration was.
/// Monochrome values are modality values (stored value x slope + intercept). MONOCHROME1 frames are NOT inverted:
/// inverting would turn e.g. attenuation values into something else; <see cref="IsInverted"/> tells a display to do it.
/// </summary>
public sealed record DicomFloatFrame(float[] Data, int Rows, int Columns, int Channels, bool IsInverted);

/// <summary>Stored pixel values made from float32 data, and the Image Pixel / Modality LUT attributes that describe them.</summary>
public sealed record DicomStoredPixels(
    byte[] Data, int BitsAllocated, int BitsStored, int HighBit, int PixelRepresentation, double RescaleSlope, double RescaleIntercept, int ClampedCount)
{
    /// <summary>Sets Bits Allocated/Stored, High Bit, Pixel Representation and Rescale Slope/Intercept (not Pixel Data,
    /// which a multi-frame caller assembles from several results).</summary>
    public DicomDataset ApplyTo(DicomDataset ds)
    {
        ds.AddOrUpdate(DicomTag.BitsAllocated, (ushort)BitsAllocated);
        ds.AddOrUpdate(DicomTag.BitsStored, (ushort)BitsStored);
        ds.AddOrUpdate(DicomTag.HighBit, (ushort)HighBit);
        ds.AddOrUpdate(DicomTag.PixelRepresentation, (ushort)PixelRepresentation);
        ds.AddOrUpdate(DicomTag.RescaleSlope, DicomPixelConverter.FormatDecimalString(RescaleSlope));
        ds.AddOrUpdate(DicomTag.RescaleIntercept, DicomPixelConverter.FormatDecimalString(RescaleIntercept));
        return ds;
    }
}

/// <summary>Stored values as integers, and the Modality LUT that maps them to the values they were made from.</summary>
public sealed record DicomQuantizedValues(int[] Values, double RescaleSlope, double RescaleIntercept, int ClampedCount);

/// <summary>Options for turning float32 values into stored values.</summary>
public sealed record DicomStoreOptions(int BitsStored = 16, bool Signed = false, double? RescaleSlope = null, double? RescaleIntercept = null);

/// <summary>Stored pixel values to float32 (Modality LUT, bit masking, sign, colour models) and back.</summary>
public static class DicomPixelConverter
{
    /// <summary>Converts one native frame. Rescale applies to monochrome data only (PS3.3 C.11.1: the Modality LUT is for grayscale).</summary>
    public static DicomFloatFrame ToFloat32(ReadOnlySpan<byte> frame, DicomPixelDescription d, double rescaleSlope = 1, double rescaleIntercept = 0)
    {
        d.Validate();
        if (frame.Length < d.FrameLength)
            throw new DicomCodecException($"frame holds {frame.Length} bytes; {d.Rows}x{d.Columns} with {d.SamplesPerPixel} sample(s) of {d.BitsAllocated} bits needs {d.FrameLength}");
        if (d.BitsAllocated > 32) throw new DicomCodecException($"Bits Allocated {d.BitsAllocated} is not supported for conversion to float32");
        if (!double.IsFinite(rescaleSlope) || !double.IsFinite(rescaleIntercept))
            throw new DicomCodecException($"rescale slope {rescaleSlope} / intercept {rescaleIntercept} is not a finite number");
        var pixels = d.Rows * d.Columns;
        var pi = d.PhotometricInterpretation;
        switch (pi)
        {
            case "MONOCHROME1" or "MONOCHROME2":
            {
                if (d.SamplesPerPixel != 1) throw new DicomCodecException($"{pi} needs Samples per Pixel 1, not {d.SamplesPerPixel}");
                var result = new float[pixels];
                for (var i = 0; i < pixels; i++) result[i] = (float)(Sample(frame, d, i) * rescaleSlope + rescaleIntercept);
                return new DicomFloatFrame(result, d.Rows, d.Columns, 1, pi == "MONOCHROME1");
            }
            case "RGB" or "YBR_FULL":
                return Color(frame, d, pixels, ycc: pi == "YBR_FULL");
            case "YBR_FULL_422":
                return Ybr422(frame, d, pixels);
            default:
                throw new DicomCodecException($"Photometric Interpretation '{pi}' cannot be converted to float32 (supported: MONOCHROME1/2, RGB, YBR_FULL, YBR_FULL_422)");
        }
    }

    private static DicomFloatFrame Color(ReadOnlySpan<byte> frame, DicomPixelDescription d, int pixels, bool ycc)
    {
        if (d.SamplesPerPixel != 3) throw new DicomCodecException($"{d.PhotometricInterpretation} needs Samples per Pixel 3, not {d.SamplesPerPixel}");
        var result = new float[pixels * 3];
        var planar = d.PlanarConfiguration == 1;
        var max = MaxValue(d);
        for (var p = 0; p < pixels; p++)
        {
            long a, b, c;
            if (planar) (a, b, c) = (Sample(frame, d, p), Sample(frame, d, pixels + p), Sample(frame, d, 2 * pixels + p));
            else (a, b, c) = (Sample(frame, d, 3 * p), Sample(frame, d, 3 * p + 1), Sample(frame, d, 3 * p + 2));
            if (ycc) YccToRgb(a, b, c, max, result.AsSpan(3 * p, 3));
            else (result[3 * p], result[3 * p + 1], result[3 * p + 2]) = (a, b, c);
        }
        return new DicomFloatFrame(result, d.Rows, d.Columns, 3, false);
    }

    /// <summary>YBR_FULL_422 stores Y1 Y2 Cb Cr for each horizontal pair of pixels (PS3.3 C.7.6.3.1.2).</summary>
    private static DicomFloatFrame Ybr422(ReadOnlySpan<byte> frame, DicomPixelDescription d, int pixels)
    {
        if (d.SamplesPerPixel != 3) throw new DicomCodecException($"YBR_FULL_422 needs Samples per Pixel 3, not {d.SamplesPerPixel}");
        if (d.Columns % 2 != 0) throw new DicomCodecException($"YBR_FULL_422 needs an even number of columns, not {d.Columns}");
        var result = new float[pixels * 3];
        var max = MaxValue(d);
        for (var p = 0; p < pixels; p += 2)
        {
            var s = p * 2;
            long y1 = Sample(frame, d, s), y2 = Sample(frame, d, s + 1), cb = Sample(frame, d, s + 2), cr = Sample(frame, d, s + 3);
            YccToRgb(y1, cb, cr, max, result.AsSpan(3 * p, 3));
            YccToRgb(y2, cb, cr, max, result.AsSpan(3 * p + 3, 3));
        }
        return new DicomFloatFrame(result, d.Rows, d.Columns, 3, false);
    }

    private static long MaxValue(DicomPixelDescription d) => (1L << d.BitsStored) - 1;

    /// <summary>ITU-R BT.601 full-range YCbCr to RGB, centred on half the stored range, clamped to it.</summary>
    private static void YccToRgb(long y, long cb, long cr, long max, Span<float> rgb)
    {
        var half = (max + 1) / 2.0;
        double dcb = cb - half, dcr = cr - half;
        rgb[0] = (float)Math.Clamp(y + 1.402 * dcr, 0, max);
        rgb[1] = (float)Math.Clamp(y - 0.344136 * dcb - 0.714136 * dcr, 0, max);
        rgb[2] = (float)Math.Clamp(y + 1.772 * dcb, 0, max);
    }

    /// <summary>Sample <paramref name="index"/> as a stored value: bits above High Bit (overlays, garbage) masked off, sign-extended.</summary>
    private static long Sample(ReadOnlySpan<byte> frame, DicomPixelDescription d, int index)
    {
        ulong raw = d.BitsAllocated switch
        {
            1 => (ulong)(frame[index >> 3] >> (index & 7)) & 1,
            8 => frame[index],
            16 => BinaryPrimitives.ReadUInt16LittleEndian(frame[(index * 2)..]),
            _ => BinaryPrimitives.ReadUInt32LittleEndian(frame[(index * 4)..]),
        };
        var shift = d.HighBit - d.BitsStored + 1;
        var mask = (1UL << d.BitsStored) - 1;
        var v = (raw >> shift) & mask;
        if (d.IsSigned && (v & (1UL << (d.BitsStored - 1))) != 0) return (long)v - (1L << d.BitsStored);
        return (long)v;
    }

    /// <summary>
    /// Quantizes float32 values to stored values of <see cref="DicomStoreOptions.BitsStored"/> bits (8 allocated up to 8,
    /// else 16), High Bit = Bits Stored - 1. Without a given slope/intercept: integral data that fits is stored as is
    /// (slope 1, intercept 0, or an intercept that shifts it into range); otherwise the data's range is spread over the
    /// full stored range. Slope and intercept are what the DS strings say, so readers recover exactly what we quantized.
    /// Values outside the stored range (only possible with a given slope/intercept) are clamped and counted.
    /// </summary>
    public static DicomStoredPixels FromFloat32(ReadOnlySpan<float> values, DicomStoreOptions? options = null)
    {
        options ??= new DicomStoreOptions();
        var q = Quantize(values, options);
        return Pack(q.Values, options.BitsStored, options.Signed, q.RescaleSlope, q.RescaleIntercept, q.ClampedCount);
    }

    /// <summary>The quantization of <see cref="FromFloat32"/> without the packing: stored values as integers.</summary>
    public static DicomQuantizedValues Quantize(ReadOnlySpan<float> values, DicomStoreOptions options)
    {
        var bits = options.BitsStored;
        if (bits is < 1 or > 16) throw new DicomCodecException($"Bits Stored {bits} is not supported for stored output (1 to 16)");
        var (lo, hi) = StoredRange(bits, options.Signed);
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        var integral = true;
        for (var i = 0; i < values.Length; i++)
        {
            var v = values[i];
            if (!float.IsFinite(v)) throw new DicomCodecException($"value {i} is {v}; only finite values can be stored");
            if (v < min) min = v;
            if (v > max) max = v;
            if (integral && v != MathF.Round(v)) integral = false;
        }
        if (values.Length == 0) min = max = 0;
        var (slope, intercept) = options.RescaleSlope is { } s
            ? (s, options.RescaleIntercept ?? 0)
            : ChooseRescale(min, max, integral, lo, hi, options.RescaleIntercept);
        slope = ParseDecimalString(FormatDecimalString(slope));
        intercept = ParseDecimalString(FormatDecimalString(intercept));
        if (slope == 0 || !double.IsFinite(slope) || !double.IsFinite(intercept))
            throw new DicomCodecException($"rescale slope {slope} / intercept {intercept} cannot map values to stored values");
        var stored = new int[values.Length];
        var clamped = 0;
        for (var i = 0; i < values.Length; i++) stored[i] = QuantizeOne(values[i], slope, intercept, lo, hi, ref clamped);
        return new DicomQuantizedValues(stored, slope, intercept, clamped);
    }

    /// <summary>
    /// <see cref="Quantize"/> with a given slope and intercept followed by <see cref="Pack"/>, a span at a time: the
    /// stored values go straight into <paramref name="destination"/> (8 bits allocated up to 8 stored, else 16, little
    /// endian), so a large image needs no integer per pixel in between. Returns how many values were clamped.
    /// </summary>
    public static int QuantizeInto(ReadOnlySpan<float> values, Span<byte> destination, int bitsStored, bool signed, double slope, double intercept, long firstIndex = 0)
    {
        if (bitsStored is < 1 or > 16) throw new DicomCodecException($"Bits Stored {bitsStored} is not supported for stored output (1 to 16)");
        if (slope == 0 || !double.IsFinite(slope) || !double.IsFinite(intercept))
            throw new DicomCodecException($"rescale slope {slope} / intercept {intercept} cannot map values to stored values");
        (slope, intercept) = (ParseDecimalString(FormatDecimalString(slope)), ParseDecimalString(FormatDecimalString(intercept)));
        var (lo, hi) = StoredRange(bitsStored, signed);
        var bytes = bitsStored <= 8 ? 1 : 2;
        if (destination.Length < values.Length * bytes) throw new ArgumentException($"{destination.Length} bytes cannot hold {values.Length} samples of {bytes * 8} bits");
        var clamped = 0;
        for (var i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i])) throw new DicomCodecException($"value {firstIndex + i} is {values[i]}; only finite values can be stored");
            WriteSample(destination, i, bytes, QuantizeOne(values[i], slope, intercept, lo, hi, ref clamped));
        }
        return clamped;
    }

    private static int QuantizeOne(float value, double slope, double intercept, long lo, long hi, ref int clamped)
    {
        var q = Math.Round((value - intercept) / slope, MidpointRounding.AwayFromZero);
        if (q < lo || q > hi)
        {
            clamped++;
            q = Math.Clamp(q, lo, hi);
        }
        return (int)q;
    }

    // Two's complement fills the bits above High Bit with the sign, as most writers do; readers mask them anyway.
    private static void WriteSample(Span<byte> destination, int index, int bytes, int stored)
    {
        if (bytes == 1) destination[index] = (byte)stored;
        else BinaryPrimitives.WriteUInt16LittleEndian(destination[(index * 2)..], (ushort)stored);
    }

    /// <summary>
    /// A grayscale frame's stored values, as <see cref="ToStoredValues"/> reads them, packed as <see cref="Pack"/> packs
    /// them (Bits Stored kept, High Bit = Bits Stored - 1), without an integer per pixel in between.
    /// </summary>
    public static DicomStoredPixels PackStoredValues(ReadOnlySpan<byte> frame, DicomPixelDescription d, double rescaleSlope = 1, double rescaleIntercept = 0)
    {
        CheckStoredFrame(frame, d);
        if (d.BitsStored > 16) throw new DicomCodecException($"Bits Stored {d.BitsStored} is not supported for stored output (1 to 16)");
        var bytes = d.BitsStored <= 8 ? 1 : 2;
        var data = new byte[d.Rows * d.Columns * bytes];
        for (var i = 0; i < d.Rows * d.Columns; i++) WriteSample(data, i, bytes, checked((int)Sample(frame, d, i)));
        return new DicomStoredPixels(data, bytes * 8, d.BitsStored, d.BitsStored - 1, d.IsSigned ? 1 : 0, rescaleSlope, rescaleIntercept, 0);
    }

    /// <summary>
    /// Samples packed as <see cref="Pack"/> packs them, received from elsewhere: every value is checked to fit Bits Stored
    /// (sign-extended or zero above it, as <see cref="Pack"/> writes), and the buffer is used as it is.
    /// </summary>
    public static DicomStoredPixels FromPacked(byte[] data, int bitsStored, bool signed, double rescaleSlope = 1, double rescaleIntercept = 0)
    {
        if (bitsStored is < 1 or > 16) throw new DicomCodecException($"Bits Stored {bitsStored} is not supported for stored output (1 to 16)");
        var (lo, hi) = StoredRange(bitsStored, signed);
        var bytes = bitsStored <= 8 ? 1 : 2;
        if (data.Length % bytes != 0) throw new DicomCodecException($"{data.Length} bytes are not whole samples of {bytes * 8} bits");
        for (var i = 0; i < data.Length / bytes; i++)
        {
            long q = (bytes, signed) switch
            {
                (1, false) => data[i],
                (1, true) => (sbyte)data[i],
                (_, false) => BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(i * 2)),
                _ => BinaryPrimitives.ReadInt16LittleEndian(data.AsSpan(i * 2)),
            };
            if (q < lo || q > hi) throw new DicomCodecException($"stored value {q} at {i} does not fit {bitsStored} {(signed ? "signed" : "unsigned")} bits");
        }
        return new DicomStoredPixels(data, bytes * 8, bitsStored, bitsStored - 1, signed ? 1 : 0, rescaleSlope, rescaleIntercept, 0);
    }

    /// <summary>Stored values (already within Bits Stored) as native little-endian samples of 8 or 16 bits allocated.</summary>
    public static DicomStoredPixels Pack(ReadOnlySpan<int> stored, int bitsStored, bool signed, double rescaleSlope = 1, double rescaleIntercept = 0, int clampedCount = 0)
    {
        if (bitsStored is < 1 or > 16) throw new DicomCodecException($"Bits Stored {bitsStored} is not supported for stored output (1 to 16)");
        var (lo, hi) = StoredRange(bitsStored, signed);
        var allocated = bitsStored <= 8 ? 8 : 16;
        var data = new byte[stored.Length * (allocated / 8)];
        for (var i = 0; i < stored.Length; i++)
        {
            var q = stored[i];
            if (q < lo || q > hi) throw new DicomCodecException($"stored value {q} at {i} does not fit {bitsStored} {(signed ? "signed" : "unsigned")} bits");
            WriteSample(data, i, allocated / 8, q);
        }
        return new DicomStoredPixels(data, allocated, bitsStored, bitsStored - 1, signed ? 1 : 0, rescaleSlope, rescaleIntercept, clampedCount);
    }

    /// <summary>A single-sample (grayscale) frame's stored values: bits above High Bit masked off, sign-extended.</summary>
    public static int[] ToStoredValues(ReadOnlySpan<byte> frame, DicomPixelDescription d)
    {
        CheckStoredFrame(frame, d);
        var values = new int[d.Rows * d.Columns];
        for (var i = 0; i < values.Length; i++) values[i] = checked((int)Sample(frame, d, i));
        return values;
    }

    /// <summary>
    /// Samples of 8 bits as 16 (sign-extended when <paramref name="signed"/>) or of 16 as 8 (the low byte; the values
    /// must fit, which <see cref="FromPacked"/> checks): for peers whose wire type is wider than the packing.
    /// </summary>
    public static byte[] ResizeSamples(ReadOnlySpan<byte> samples, int fromBytes, int toBytes, bool signed)
    {
        switch (fromBytes, toBytes)
        {
            case (1, 2):
                var wide = new byte[samples.Length * 2];
                for (var i = 0; i < samples.Length; i++) BinaryPrimitives.WriteInt16LittleEndian(wide.AsSpan(i * 2), signed ? (sbyte)samples[i] : samples[i]);
                return wide;
            case (2, 1):
                var narrow = new byte[samples.Length / 2];
                for (var i = 0; i < narrow.Length; i++)
                {
                    var v = BinaryPrimitives.ReadInt16LittleEndian(samples[(i * 2)..]);
                    if (signed ? v is < sbyte.MinValue or > sbyte.MaxValue : v is < 0 or > byte.MaxValue)
                        throw new DicomCodecException($"sample {v} at {i} does not fit 8 {(signed ? "signed" : "unsigned")} bits");
                    narrow[i] = (byte)v;
                }
                return narrow;
            default:
                return fromBytes == toBytes ? samples.ToArray() : throw new ArgumentException($"samples of {fromBytes} bytes cannot become {toBytes} bytes");
        }
    }

    private static void CheckStoredFrame(ReadOnlySpan<byte> frame, DicomPixelDescription d)
    {
        d.Validate();
        if (d.SamplesPerPixel != 1) throw new DicomCodecException($"stored values are read from single-sample frames; this one has {d.SamplesPerPixel} samples per pixel");
        if (d.BitsAllocated > 32) throw new DicomCodecException($"Bits Allocated {d.BitsAllocated} is not supported");
        if (frame.Length < d.FrameLength)
            throw new DicomCodecException($"frame holds {frame.Length} bytes; {d.Rows}x{d.Columns} of {d.BitsAllocated} bits needs {d.FrameLength}");
    }

    /// <summary>The lowest and highest stored value of <paramref name="bits"/> bits, two's complement when signed.</summary>
    public static (long Low, long High) StoredRange(int bits, bool signed) =>
        signed ? (-(1L << (bits - 1)), (1L << (bits - 1)) - 1) : (0, (1L << bits) - 1);

    private static (double Slope, double Intercept) ChooseRescale(double min, double max, bool integral, long lo, long hi, double? fixedIntercept)
    {
        if (fixedIntercept is { } fi)
        {
            if (integral && min - fi >= lo && max - fi <= hi) return (1, fi);
            var needed = Math.Max((max - fi) / hi, lo < 0 ? (min - fi) / lo : 0);
            return (needed > 0 ? needed : 1, fi);
        }
        if (integral && min >= lo && max <= hi) return (1, 0);
        if (integral && max - min <= hi - lo) return (1, min - lo);
        if (max == min) return (1, min - lo);
        var slope = (max - min) / (hi - lo);
        return (slope, min - lo * slope);
    }

    /// <summary>The shortest decimal string of at most 16 characters (the DS limit) that comes closest to <paramref name="value"/>.</summary>
    public static string FormatDecimalString(double value)
    {
        for (var digits = 15; digits > 0; digits--)
        {
            var s = value.ToString("G" + digits, CultureInfo.InvariantCulture);
            if (s.Length <= 16) return s;
        }
        throw new DicomValueException($"{value} cannot be written as a Decimal String");
    }

    private static double ParseDecimalString(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
}
