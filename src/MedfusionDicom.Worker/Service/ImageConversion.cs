using System.Buffers.Binary;
using Google.Protobuf;
using Medfusion.V1;
using MedfusionDicom.Dicom.Imaging;
using MedfusionDicom.Imaging;

namespace MedfusionDicom.Worker.Service;

/// <summary>A request image in model space, with what is needed to bring results back to the caller's values.</summary>
internal sealed record ModelImage(Image2D Image, IntensityWindow Window, PixelType PixelType);

/// <summary>An image the caller sent that cannot be used; the message says what is wrong.</summary>
internal sealed class InvalidImageException(string message) : Exception(message);

/// <summary>
/// Converts between the API's images (row-major, little-endian) and the models' space through the imaging path: the
/// model's intensity convention, MONOCHROME1 inverted once each way, and known pixels of an inpainting request given
/// back exactly as sent. This class only decodes and encodes the API's pixel types.
/// </summary>
internal static class ImageConversion
{
    /// <summary>The largest side a request image may have (DICOM's Rows and Columns are 16-bit).</summary>
    public const int MaxSide = ushort.MaxValue;

    public static ModelImage ToModel(Image? image, string field, ModelImageSpec spec)
    {
        var values = Validated(image, field);
        var monochrome1 = image!.PhotometricInterpretation switch
        {
            "" or "MONOCHROME2" => false,
            "MONOCHROME1" => true,
            var other => throw new InvalidImageException($"{field} has photometric_interpretation '{other}'; the models take grayscale images: MONOCHROME1 or MONOCHROME2"),
        };
        try
        {
            var window = spec.Intensity.WindowFor(values, monochrome1, StoredRange(image, field));
            // Into model space in place: a large image is held once as floats, not twice.
            window.ToModel(values, values);
            return new ModelImage(new Image2D((int)image.Width, (int)image.Height, values), window, image.PixelType);
        }
        catch (ImagingException ex)
        {
            throw new InvalidImageException($"{field}: {ex.Message}");
        }
    }

    /// <summary>An inpainting mask: every non-zero pixel is to be generated.</summary>
    public static bool[] ToMask(Image? mask, int expectedWidth, int expectedHeight)
    {
        var raw = Validated(mask, "mask");
        if (mask!.Width != expectedWidth || mask.Height != expectedHeight)
            throw new InvalidImageException($"mask is {mask.Width}x{mask.Height}; the image is {expectedWidth}x{expectedHeight}");
        var result = raw.Select(v => v != 0).ToArray();
        try
        {
            ImageMask.Validate(result, expectedWidth, expectedHeight);
        }
        catch (ImagingException ex)
        {
            throw new InvalidImageException(ex.Message);
        }
        return result;
    }

    /// <summary>
    /// A model output in the caller's values and pixel type; where <paramref name="unknown"/> is false, the request's
    /// own samples, byte for byte. The output's buffer is consumed.
    /// </summary>
    public static Image FromModel(Image2D output, IntensityWindow window, bool[]? unknown, Image request)
    {
        var data = Encode(output, window, request.PixelType, request.BitsStored);
        if (unknown is not null) KnownPixels.KeepSamples(data, request.Data.Span, BytesPerPixel(request.PixelType)!.Value, unknown);
        return Wrap(data, output.Width, output.Height, request.PixelType, request.PhotometricInterpretation, request.BitsStored);
    }

    /// <summary>A generated image: model output in the fixed range of the model's card, as 8-bit values.</summary>
    public static Image FromSynthesis(Image2D output, IntensityNormalization intensity) =>
        Wrap(Encode(output, new IntensityWindow(intensity.Low, intensity.High, Inverted: false), PixelType.Uint8, 8), output.Width, output.Height,
            PixelType.Uint8, "MONOCHROME2", 8);

    private static byte[] Encode(Image2D output, IntensityWindow window, PixelType type, uint bitsStored)
    {
        if (type == PixelType.Float32)
        {
            window.FromModel(output.Data, output.Data);
            var floats = new byte[output.Data.Length * 4];
            for (var i = 0; i < output.Data.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(floats.AsSpan(i * 4), output.Data[i]);
            return floats;
        }
        // Integer pixels are stored values: quantized as the DICOM path quantizes (rounded, clamped to the bits).
        var encoding = new StoredEncoding(EffectiveBits(type, bitsStored), type == PixelType.Int16, 1, 0);
        var packed = encoding.PackModelOutput(output, window).Data;
        // A 16-bit type holding 8 bits or fewer takes the packed bytes widened to its two.
        return encoding.BytesPerSample == BytesPerPixel(type) ? packed : DicomPixelConverter.ResizeSamples(packed, 1, 2, encoding.Signed);
    }

    // The buffer is this call's own and never written again, so the message can hold it without a copy.
    private static Image Wrap(byte[] data, int width, int height, PixelType type, string photometric, uint bitsStored) => new()
    {
        Width = (uint)width, Height = (uint)height, Channels = 1, PixelType = type, Data = UnsafeByteOperations.UnsafeWrap(data),
        PhotometricInterpretation = photometric, BitsStored = bitsStored,
    };

    private static float[] Validated(Image? image, string field)
    {
        if (image is null) throw new InvalidImageException($"{field} is missing");
        if (image.Width == 0 || image.Height == 0 || image.Width > MaxSide || image.Height > MaxSide)
            throw new InvalidImageException($"{field} is {image.Width}x{image.Height}; width and height must be 1..{MaxSide}");
        if (image.Channels != 1) throw new InvalidImageException($"{field} has {image.Channels} channels; the models take single-channel (grayscale) images");
        var bytesPerPixel = BytesPerPixel(image.PixelType) ?? throw new InvalidImageException($"{field} has pixel type {Name(image.PixelType)}; use UINT8, UINT16, INT16 or FLOAT32");
        if (image.BitsStored > bytesPerPixel * 8 || image.PixelType == PixelType.Float32 && image.BitsStored != 0)
            throw new InvalidImageException($"{field} has bits_stored {image.BitsStored}; {Name(image.PixelType)} holds {(image.PixelType == PixelType.Float32 ? "no stored bits (use 0)" : $"at most {bytesPerPixel * 8}")}");
        var expected = (long)image.Width * image.Height * bytesPerPixel;
        if (image.Data.Length != expected)
            throw new InvalidImageException($"{field} data is {image.Data.Length} bytes; {image.Width}x{image.Height} {Name(image.PixelType)} needs {expected}");
        var values = Decode(image.Data.Span, image.PixelType);
        var (lo, hi) = IntegerRange(image.PixelType, image.BitsStored);
        for (var i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i])) throw new InvalidImageException($"{field} contains NaN or infinite values");
            if (values[i] < lo || values[i] > hi) throw new InvalidImageException($"{field} pixel {i} is {values[i]}, outside the {lo}..{hi} of {image.BitsStored} bits stored");
        }
        return values;
    }

    /// <summary>What the image's integer encoding can hold; null for float images.</summary>
    private static ValueRange? StoredRange(Image image, string field) => image.PixelType switch
    {
        PixelType.Float32 => null,
        _ => ValueRange.OfStored(EffectiveBits(image.PixelType, image.BitsStored), image.PixelType == PixelType.Int16),
    };

    private static int EffectiveBits(PixelType type, uint bitsStored) => bitsStored != 0 ? (int)bitsStored : BytesPerPixel(type)!.Value * 8;

    private static (double Low, double High) IntegerRange(PixelType type, uint bitsStored)
    {
        if (type == PixelType.Float32) return (double.NegativeInfinity, double.PositiveInfinity);
        var range = ValueRange.OfStored(EffectiveBits(type, bitsStored), type == PixelType.Int16);
        return (range.Low, range.High);
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

    private static float[] Decode(ReadOnlySpan<byte> data, PixelType type)
    {
        var n = data.Length / BytesPerPixel(type)!.Value;
        var values = new float[n];
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
