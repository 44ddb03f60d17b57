using System.Runtime.InteropServices;
using Google.Protobuf;
using Medfusion.V1;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Imaging;
using MedfusionDicom.Imaging;

namespace MedfusionDicom.Gateway.Inference;

/// <summary>
/// The wire form of a frame: its stored values as the worker API's Image (the worker applies the model's intensity
/// convention; see worker.proto), and the stored values of the Image a worker sends back. The only place the gateway
/// touches pixel values; everything between frames and the model's space is the imaging path's, on the worker. The
/// wire's samples are the stored encoding's packed samples (widened to two bytes for INT16 when the encoding packs
/// one), so a frame crosses without an integer per pixel and a result becomes pixel data as it arrives.
/// </summary>
public static class WorkerImages
{
    public static Image FromFrame(SourceFrame frame, int width, int height, StoredEncoding encoding, bool monochrome1)
    {
        var type = TypeOf(encoding);
        var packed = frame.PackedStoredValues().Data;
        var wire = WireBytes(type) == encoding.BytesPerSample ? packed : DicomPixelConverter.ResizeSamples(packed, encoding.BytesPerSample, WireBytes(type), encoding.Signed);
        return new Image
        {
            // The buffer is this call's own and never written again, so the message holds it without a copy.
            Width = (uint)width, Height = (uint)height, Channels = 1, PixelType = type, Data = UnsafeByteOperations.UnsafeWrap(wire),
            BitsStored = (uint)encoding.BitsStored, PhotometricInterpretation = monochrome1 ? "MONOCHROME1" : "MONOCHROME2",
        };
    }

    /// <summary>A worker's result as packed samples of the encoding, checked against the size and type that were asked for and against Bits Stored.</summary>
    public static DicomStoredPixels ToPacked(Image image, int expectedWidth, int expectedHeight, StoredEncoding encoding)
    {
        var type = TypeOf(encoding);
        if (image.Width != expectedWidth || image.Height != expectedHeight || image.Channels != 1 || image.PixelType != type)
            throw new InvalidDataException($"the worker answered a {image.Width}x{image.Height}x{image.Channels} {image.PixelType} image; {expectedWidth}x{expectedHeight}x1 {type} was expected");
        var expected = (long)expectedWidth * expectedHeight * WireBytes(type);
        if (image.Data.Length != expected) throw new InvalidDataException($"the worker's image has {image.Data.Length} bytes of data; {expected} were expected");
        try
        {
            var wire = MemoryMarshal.TryGetArray(image.Data.Memory, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
                ? segment.Array
                : image.Data.ToByteArray();
            var packed = WireBytes(type) == encoding.BytesPerSample ? wire : DicomPixelConverter.ResizeSamples(wire, WireBytes(type), encoding.BytesPerSample, encoding.Signed);
            return encoding.FromPacked(packed);
        }
        catch (DicomCodecException ex)
        {
            throw new InvalidDataException($"the worker's image does not fit {encoding.BitsStored} bits stored: {ex.Message}", ex);
        }
    }

    /// <summary>Inpainting: the mask (true = to fill) as the worker API's mask image (1 = to fill).</summary>
    public static Image Mask(bool[] mask, int width, int height)
    {
        var data = new byte[width * height];
        for (var i = 0; i < data.Length; i++) data[i] = mask[i] ? (byte)1 : (byte)0;
        return new Image { Width = (uint)width, Height = (uint)height, Channels = 1, PixelType = PixelType.Uint8, Data = UnsafeByteOperations.UnsafeWrap(data) };
    }

    private static int WireBytes(PixelType type) => type == PixelType.Uint8 ? 1 : 2;

    private static PixelType TypeOf(StoredEncoding encoding) => encoding switch
    {
        { BitsStored: > 16 } => throw new InvalidDataException($"{encoding.BitsStored} bits stored: the worker API carries at most 16"),
        { Signed: true } => PixelType.Int16,
        { BitsStored: <= 8 } => PixelType.Uint8,
        _ => PixelType.Uint16,
    };
}
