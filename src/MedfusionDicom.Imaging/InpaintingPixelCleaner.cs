using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Deidentification;

namespace MedfusionDicom.Imaging;

/// <summary>
/// Clean Pixel Data by inpainting: the regions that hold burned-in identity (the instance's overlay plane where it has
/// one, and the configured boxes) are filled by an inpainting model instead of being blacked out, so that the image
/// still looks like an image. Every pixel outside them keeps its stored value bit for bit.
/// </summary>
public sealed class InpaintingPixelCleaner(IImageModel inpainting, IReadOnlyList<IReadOnlyList<int>> boxes, TilingOptions? tiling = null, CancellationToken cancellationToken = default)
    : IDicomPixelCleaner
{
    public void Clean(DicomDataset source, DicomDataset deidentified)
    {
        var image = SourceImage.Open(source);
        var mask = ImageMask.Boxes(image.Width, image.Height, boxes);
        if (ImageMask.FromOverlay(source, image.Width, image.Height) is { } overlay)
            for (var i = 0; i < mask.Length; i++) mask[i] |= overlay[i];
        if (!ImageMask.AnyUnknown(mask))
            throw new ImagingException("clean-pixel-data has nothing to fill: no box was given and the instance has no overlay plane (6000,3000)");
        var pixels = new DicomImageProcessor(inpainting, tiling).Process(image, mask, cancellationToken: cancellationToken);
        deidentified.AddOrUpdate(new DicomElement(DicomTag.PixelData, pixels.BitsAllocated > 8 ? DicomVR.OW : DicomVR.OB, pixels.Data));
    }
}
