namespace MedfusionDicom.Dicom.Derived;

/// <summary>A coded concept (PS3.3 Table 8.8-1 Code Sequence Macro, basic triplet).</summary>
public sealed record DicomCodedEntry(string CodeValue, string CodingSchemeDesignator, string CodeMeaning)
{
    /// <summary>The concept as one item of a code sequence.</summary>
    public DicomDataset ToItem() => new DicomDataset()
        .AddOrUpdate(DicomTag.CodeValue, CodeValue)
        .AddOrUpdate(DicomTag.CodingSchemeDesignator, CodingSchemeDesignator)
        .AddOrUpdate(DicomTag.CodeMeaning, CodeMeaning);
}

/// <summary>
/// The codes the derived-image builder writes: the DICOM Controlled Terminology (DCM, PS3.16 Annex D), and SNOMED CT
/// (SCT) for anatomy.
/// Derivation codes are members of CID 7203 "Image Derivation"; a job whose processing no member describes (inpainting,
/// class-conditional synthesis) gives none: CID 7203 is extensible, but we do not coin DCM codes, and the Derivation
/// Description (0008,2111) still says what was done.
/// </summary>
public static class DicomCodes
{
    /// <summary>(113087, DCM, "Smoothing"), CID 7203: the member that describes noise reduction (denoising).</summary>
    public static DicomCodedEntry Smoothing { get; } = new("113087", "DCM", "Smoothing");

    /// <summary>(113085, DCM, "Spatial resampling"), CID 7203: the pixel grid changed (super-resolution).</summary>
    public static DicomCodedEntry SpatialResampling { get; } = new("113085", "DCM", "Spatial resampling");

    /// <summary>(113086, DCM, "Edge enhancement"), CID 7203: sharpening that is not a change of grid.</summary>
    public static DicomCodedEntry EdgeEnhancement { get; } = new("113086", "DCM", "Edge enhancement");

    /// <summary>(113047, DCM, "Pixel by pixel mask"), CID 7203: pixels outside a mask were replaced.</summary>
    public static DicomCodedEntry PixelByPixelMask { get; } = new("113047", "DCM", "Pixel by pixel mask");

    /// <summary>(121322, DCM, "Source image for image processing operation"), CID 7202: purpose of a Source Image Sequence item.</summary>
    public static DicomCodedEntry SourceImageForImageProcessingOperation { get; } =
        new("121322", "DCM", "Source image for image processing operation");

    /// <summary>(109102, DCM, "Processing Equipment"), CID 7005: purpose of a Contributing Equipment item.</summary>
    public static DicomCodedEntry ProcessingEquipment { get; } = new("109102", "DCM", "Processing Equipment");

    /// <summary>(109100, DCM, "Synthesizing Equipment"): the equipment that made synthetic content (PS3.3 C.12.1, Synthetic Data note).</summary>
    public static DicomCodedEntry SynthesizingEquipment { get; } = new("109100", "DCM", "Synthesizing Equipment");

    /// <summary>(51185008, SCT, "Chest"), CID 4009 "DX Anatomy Imaged": the anatomic region of a chest radiograph.</summary>
    public static DicomCodedEntry Chest { get; } = new("51185008", "SCT", "Chest");
}
