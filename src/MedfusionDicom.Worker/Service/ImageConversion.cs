using System.Buffers.Binary;
using Google.Protobuf;
using Medfusion.V1;

namespace MedfusionDicom.Worker.Service;

/// <summary>A request image in model space, with what is needed to bring results back to the caller's scale.</summary>
internal sealed record ModelImage(float[] Pixels, int Width, int Height, PixelType PixelType, double Minimum, double Maximum);

/// <summary>An image the caller sent that cannot be used; the message says what is wrong.</summary>
internal sealed class InvalidImageException(string message) : Exception(message);

/// <summary>
/// Converts between the API's images (row-major, interleaved, little-endian) and the models' single-channel [-1, 1]
/// space. Each image is scaled by its own minimum and maximum (Med-cDiff normalises per patient the same way), and
/// results go back to that range and the caller's pixel type.
/// </summary>
internal static class ImageConversion
{
    public static ModelImage ToModel(Image? image, string field, int expectedWidth, int expectedHeight)
    {
        var raw = Validated(image, field, expectedWidth, expectedHeight);
        var min = double.PositiveInfinity;
        var max = double.NegativeInfinity;
        foreach (var v in raw)
        {
            if (!double.IsFinite(v)) throw new InvalidImageException($"{field} contains NaN or infinite values");
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }
        var scale = max > min ? 2.0 / (max - min) : 0;
        var pixels = new float[raw.Length];
        for (var i = 0; i < raw.Length; i++) pixels[i] = (float)((raw[i] - min) * scale - 1.0);
        return new ModelImage(pixels, expectedWidth, expectedHeight, image!.PixelType, min, max);
    }

    /// <summary>An inpainting mask: every non-zero pixel is to be generated.</summary>
    public static bool[] ToMask(Image? mask, int expectedWidth, int expectedHeight)
    {
        var raw = Validated(mask, "mask", expectedWidth, expectedHeight);
        var result = raw.Select(v => v != 0).ToArray();
        if (!result.Contains(true)) throw new InvalidImageException("mask marks no pixel to inpaint (it is all zero)");
        if (!result.Contains(false)) throw new InvalidImageException("mask covers the whole image: nothing is known to inpaint from");
        return result;
    }

    private static double[] Validated(Image? image, string field, int expectedWidth, int expectedHeight)
    {
        if (image is null) throw new InvalidImageException($"{field} is missing");
        if (image.Width != expectedWidth || image.Height != expectedHeight)
            throw new InvalidImageException($"{field} is {image.Width}x{image.Height}; this model takes {expectedWidth}x{expectedHeight}");
        if (image.Channels != 1) throw new InvalidImageException($"{field} has {image.Channels} channels; the models take single-channel (grayscale) images");
        var bytesPerPixel = BytesPerPixel(image.PixelType) ?? throw new InvalidImageException($"{field} has pixel type {Name(image.PixelType)}; use UINT8, UINT16, INT16 or FLOAT32");
        var expected = (long)image.Width * image.Height * bytesPerPixel;
        if (image.Data.Length != expected)
            throw new InvalidImageException($"{field} data is {image.Data.Length} bytes; {image.Width}x{image.Height} {Name(image.PixelType)} needs {expected}");
        return Decode(image.Data.Span, image.PixelType);
    }

    /// <summary>A model output back in the caller's range and pixel type.</summary>
    public static Image FromModel(float[] pixels, int width, int height, PixelType type, double minimum, double maximum)
    {
        var bytesPerPixel = BytesPerPixel(type)!.Value;
        var data = new byte[pixels.Length * bytesPerPixel];
        var span = data.AsSpan();
        for (var i = 0; i < pixels.Length; i++)
        {
            var v = minimum + (Math.Clamp(pixels[i], -1f, 1f) + 1.0) / 2.0 * (maximum - minimum);
            switch (type)
            {
                case PixelType.Uint8: data[i] = (byte)Math.Clamp(Math.Round(v), 0, 255); break;
                case PixelType.Uint16: BinaryPrimitives.WriteUInt16LittleEndian(span[(i * 2)..], (ushort)Math.Clamp(Math.Round(v), 0, 65535)); break;
                case PixelType.Int16: BinaryPrimitives.WriteInt16LittleEndian(span[(i * 2)..], (short)Math.Clamp(Math.Round(v), -32768, 32767)); break;
                default: BinaryPrimitives.WriteSingleLittleEndian(span[(i * 4)..], (float)v); break;
            }
        }
        return new Image { Width = (uint)width, Height = (uint)height, Channels = 1, PixelType = type, Data = ByteString.CopyFrom(data) };
    }

    /// <summary>The enum value's name as the .proto spells it (UINT16), which is what callers in any language see.</summary>
    private static string Name(PixelType type) =>
        Image.Descriptor.FindFieldByName("pixel_type").EnumType.FindValueByNumber((int)type)?.Name ?? ((int)type).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static int? BytesPerPixel(PixelType type) => type switch
    {
        PixelType.Uint8 => 1,
        PixelType.Uint16 or PixelType.Int16 => 2,
        PixelType.Float32 => 4,
        _ => null,
    };

    private static double[] Decode(ReadOnlySpan<byte> data, PixelType type)
    {
        var n = data.Length / BytesPerPixel(type)!.Value;
        var values = new double[n];
        for (var i = 0; i < n; i++)
        {
            values[i] = type switch
            {
                PixelType.Uint8 => data[i],
                PixelType.Uint16 => BinaryPrimitives.ReadUInt16LittleEndian(data[(i * 2)..]),
                PixelType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(data[(i * 2)..]),
                _ => BinaryPrimitives.ReadSingleLittleEndian(data[(i * 4)..]),
            };
        }
        return values;
    }
}
