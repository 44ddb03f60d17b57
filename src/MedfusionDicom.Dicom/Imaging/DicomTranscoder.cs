namespace MedfusionDicom.Dicom.Imaging;

/// <summary>Rewrites a file in another uncompressed transfer syntax, decoding compressed pixel data through a codec registry.</summary>
public static class DicomTranscoder
{
    /// <summary>
    /// A new file in <paramref name="target"/> (Explicit/Implicit VR Little Endian, Explicit VR Big Endian, Deflated).
    /// Every element is kept; compressed Pixel Data is decoded frame by frame (bytes exactly as the codec gives them, so
    /// lossless sources are byte-exact), Photometric Interpretation and Planar Configuration follow the codec's output,
    /// and a lossy source gets Lossy Image Compression (0028,2110) = 01. The source file is not changed.
    /// </summary>
    public static DicomFile Transcode(DicomFile file, DicomTransferSyntax target, DicomCodecRegistry? registry = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(target);
        var source = file.Dataset.InternalTransferSyntax;
        if (target.IsEncapsulated && target != source && file.Dataset.Contains(DicomTag.PixelData))
            throw new DicomCodecException($"cannot encode the pixel data as {target}: only decoding is supported; choose an uncompressed transfer syntax");
        var ds = file.Dataset.Clone();
        ds.InternalTransferSyntax = target;
        var meta = file.FileMetaInfo.Clone();
        meta.AddOrUpdate(DicomTag.TransferSyntaxUID, target.UID.UID);
        switch (file.Dataset[DicomTag.PixelData])
        {
            case DicomFragmentSequence when !target.IsEncapsulated:
                Decompress(file.Dataset, ds, source, registry ?? DicomCodecRegistry.Default);
                break;
            case DicomElement native when ds.TryGetSingleValue<int>(DicomTag.BitsAllocated, out var bitsAllocated):
                // The VR decides byte swapping in big endian: samples of more than 8 bits must be OW (PS3.5 A.2/A.3).
                // 8-bit data may be OB or OW; it keeps the VR it came with, so a round trip changes nothing.
                if (bitsAllocated > 8 && native.ValueRepresentation == DicomVR.OB)
                    ds.AddOrUpdate(new DicomElement(DicomTag.PixelData, DicomVR.OW, native.Buffer));
                break;
        }
        return new DicomFile(ds, meta);
    }

    private static void Decompress(DicomDataset original, DicomDataset ds, DicomTransferSyntax source, DicomCodecRegistry registry)
    {
        var pixels = DicomPixelData.Create(original);
        var codec = registry.Get(source);
        var description = pixels.Description;
        var frameLength = description.BitsAllocated == 1 ? description.FrameLength : (long)description.Rows * description.Columns * description.SamplesPerPixel * description.BytesPerSample;
        var total = frameLength * description.NumberOfFrames;
        if (total > Array.MaxLength) throw new DicomCodecException($"decoded pixel data would be {total} bytes, more than one array holds");
        var output = new byte[total];
        DicomDecodedFrame? last = null;
        for (var i = 0; i < description.NumberOfFrames; i++)
        {
            var decoded = codec.Decode(pixels.GetFrame(i), description, source);
            if (decoded.Data.Length < frameLength)
                throw new DicomCodecException($"{source}: frame {i} decoded to {decoded.Data.Length} bytes; {frameLength} expected for {description.Rows}x{description.Columns}x{description.SamplesPerPixel} at {description.BitsAllocated} bits");
            decoded.Data.AsSpan(0, (int)frameLength).CopyTo(output.AsSpan((int)(frameLength * i)));
            last = decoded;
        }
        ds.AddOrUpdate(new DicomElement(DicomTag.PixelData, description.BitsAllocated > 8 ? DicomVR.OW : DicomVR.OB, output));
        if (last is not null && last.PhotometricInterpretation != description.PhotometricInterpretation)
            ds.AddOrUpdate(DicomTag.PhotometricInterpretation, last.PhotometricInterpretation);
        if (description.SamplesPerPixel > 1 && last is not null)
            ds.AddOrUpdate(DicomTag.PlanarConfiguration, (ushort)last.PlanarConfiguration);
        if (source.IsLossy)
        {
            ds.AddOrUpdate(DicomTag.LossyImageCompression, "01");
            if (!ds.Contains(DicomTag.LossyImageCompressionMethod) && LossyMethod(source) is { } method)
                ds.AddOrUpdate(DicomTag.LossyImageCompressionMethod, method);
        }
    }

    /// <summary>The defined terms of (0028,2114) for the lossy syntaxes we decode.</summary>
    private static string? LossyMethod(DicomTransferSyntax ts) => ts.UID.UID switch
    {
        "1.2.840.10008.1.2.4.50" or "1.2.840.10008.1.2.4.51" => "ISO_10918_1",
        "1.2.840.10008.1.2.4.81" => "ISO_14495_1",
        "1.2.840.10008.1.2.4.91" => "ISO_15444_1",
        _ => null,
    };
}
