using System.Buffers.Binary;
using Google.Protobuf;
using Medfusion.V1;
using MedfusionDicom.Imaging;

namespace MedfusionDicom.Gateway.Inference;

/// <summary>
/// The wire form of a frame: its stored values as the worker API's Image (the worker applies the model's intensity
/// convention; see worker.proto), and the stored values of the Image a worker sends back. The only place the gateway
/// touches pixel values; everything between frames and the model's space is the imaging path's, on the worker.
/// </summary>
public static class WorkerImages
{
    public static Image FromStored(ReadOnlySpan<int> stored, int width, int height, StoredEncoding encoding, bool monochrome1)
    {
        var type = TypeOf(encoding);
        var bytesPerPixel = type == PixelType.Uint8 ? 1 : 2;
        var data = new byte[stored.Length * bytesPerPixel];
        for (var i = 0; i < stored.Length; i++)
        {
            switch (type)
            {
                case PixelType.Uint8: data[i] = (byte)stored[i]; break;
                case PixelType.Int16: BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(2 * i), (short)stored[i]); break;
                default: BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2 * i), (ushort)stored[i]); break;
            }
        }

        return new Image
        {
            Width = (uint)width, Height = (uint)height, Channels = 1, PixelType = type, Data = ByteString.CopyFrom(data),
            BitsStored = (uint)encoding.BitsStored, PhotometricInterpretation = monochrome1 ? "MONOCHROME1" : "MONOCHROME2",
        };
    }

    /// <summary>The stored values of a worker's result, checked against the size and type that were asked for.</summary>
    public static int[] ToStored(Image image, int expectedWidth, int expectedHeight, StoredEncoding encoding)
    {
        var type = TypeOf(encoding);
        if (image.Width != expectedWidth || image.Height != expectedHeight || image.Channels != 1 || image.PixelType != type)
            throw new InvalidDataException($"the worker answered a {image.Width}x{image.Height}x{image.Channels} {image.PixelType} image; {expectedWidth}x{expectedHeight}x1 {type} was expected");
        var count = expectedWidth * expectedHeight;
        var span = image.Data.Span;
        var bytesPerPixel = type == PixelType.Uint8 ? 1 : 2;
        if (span.Length != count * bytesPerPixel) throw new InvalidDataException($"the worker's image has {span.Length} bytes of data; {count * bytesPerPixel} were expected");
        var stored = new int[count];
        for (var i = 0; i < count; i++)
        {
            stored[i] = type switch
            {
                PixelType.Uint8 => span[i],
                PixelType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(span[(2 * i)..]),
                _ => BinaryPrimitives.ReadUInt16LittleEndian(span[(2 * i)..]),
            };
        }

        return stored;
    }

    /// <summary>Inpainting: the mask (true = to fill) as the worker API's mask image (1 = to fill).</summary>
    public static Image Mask(bool[] mask, int width, int height)
    {
        var data = new byte[width * height];
        for (var i = 0; i < data.Length; i++) data[i] = mask[i] ? (byte)1 : (byte)0;
        return new Image { Width = (uint)width, Height = (uint)height, Channels = 1, PixelType = PixelType.Uint8, Data = ByteString.CopyFrom(data) };
    }

    private static PixelType TypeOf(StoredEncoding encoding) => encoding switch
    {
        { BitsStored: > 16 } => throw new InvalidDataException($"{encoding.BitsStored} bits stored: the worker API carries at most 16"),
        { Signed: true } => PixelType.Int16,
        { BitsStored: <= 8 } => PixelType.Uint8,
        _ => PixelType.Uint16,
    };
}
