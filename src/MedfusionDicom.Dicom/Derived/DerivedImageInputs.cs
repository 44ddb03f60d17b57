namespace MedfusionDicom.Dicom.Derived;

/// <summary>
/// New pixel data, already in stored form (the float32 to stored-value conversion happens before, in
/// MedfusionDicom.Dicom.Imaging): the Image Pixel module's description and the native little-endian bytes,
/// frame after frame, planar configuration 0 (colour-by-pixel) when there are several samples. A derived image has
/// its source's frames: <see cref="NumberOfFrames"/> is the source's Number of Frames, and frame i of
/// <see cref="Data"/> is made from the source's frame i. Several frames that no IOD of the source holds become
/// multi-frame Secondary Capture, which constrains the encoding (PS3.3 A.8.3-A.8.5): unsigned MONOCHROME2 of 8 bits
/// allocated and stored (Byte, no rescale) or of 16 allocated and 9 to 16 stored (Word), or 8-bit RGB (True Color).
/// </summary>
public sealed record DerivedPixelData(
    int Rows,
    int Columns,
    int SamplesPerPixel,
    string PhotometricInterpretation,
    int BitsAllocated,
    int BitsStored,
    int HighBit,
    int PixelRepresentation,
    ReadOnlyMemory<byte> Data,
    int NumberOfFrames = 1)
{
    /// <summary>
    /// Modality LUT of the stored values. Null: the stored values have the source's scale, and the source's
    /// Rescale Slope/Intercept/Type are carried forward (what a denoiser that keeps the source's encoding writes;
    /// grayscale only). An enhanced image gets it in its shared Pixel Value Transformation functional group, for every
    /// frame; null keeps the source's groups.
    /// </summary>
    public double? RescaleSlope { get; init; }
    public double? RescaleIntercept { get; init; }
    /// <summary>Rescale Type (0028,1054), e.g. HU or US; only written with a slope and intercept. Null: none, or US in SC and enhanced images, which need one.</summary>
    public string? RescaleType { get; init; }

    /// <summary>
    /// Window Center (0028,1050) values, in rescaled units; with <see cref="WindowWidth"/>, one width per center. An
    /// enhanced image gets them in its shared Frame VOI LUT functional group.
    /// </summary>
    public IReadOnlyList<double>? WindowCenter { get; init; }
    public IReadOnlyList<double>? WindowWidth { get; init; }

    /// <summary>The size the pixel description implies, in bytes.</summary>
    public long ExpectedLength => (long)Rows * Columns * SamplesPerPixel * (BitsAllocated / 8) * NumberOfFrames;
}

/// <summary>What produced the new pixels, and how to file them: one per output series (one builder per job).</summary>
public sealed record DerivedImageProcessing
{
    /// <summary>Derivation Description (0008,2111), free text (ST, at most 1024 characters).</summary>
    public required string DerivationDescription { get; init; }

    /// <summary>Derivation Code Sequence (0008,9215) items, from CID 7203 where one fits (see <see cref="DicomCodes"/>).</summary>
    public IReadOnlyList<DicomCodedEntry> DerivationCodes { get; init; } = [];

    /// <summary>Algorithm, written as the contributing equipment's Manufacturer's Model Name (LO).</summary>
    public required string AlgorithmName { get; init; }

    /// <summary>Algorithm version, the first of the contributing equipment's Software Versions.</summary>
    public required string AlgorithmVersion { get; init; }

    /// <summary>The model (weights) used, the second Software Versions value when given.</summary>
    public string? ModelName { get; init; }

    /// <summary>Manufacturer (0008,0070) of the contributing (and, for synthetic images, the general) equipment.</summary>
    public string Manufacturer { get; init; } = "MedfusionDicom";

    /// <summary>Series Description (0008,103E) of the new series.</summary>
    public required string SeriesDescription { get; init; }

    /// <summary>Series Number (0020,0011) of the new series.</summary>
    public int SeriesNumber { get; init; } = 1000;

    /// <summary>
    /// Parts of a deterministic seed (e.g. the job ID and the source series UID). Given, every new UID is name-based
    /// on them (<see cref="DicomUID.FromName"/>), so a retried job writes the same instances; null: random 2.25 UIDs.
    /// </summary>
    public IReadOnlyList<string>? UidSeed { get; init; }

    /// <summary>
    /// The content was generated rather than measured: Synthetic Data (0008,001C) YES and the contributing equipment
    /// is Synthesizing Equipment (109100). Images derived from a synthetic source are synthetic too, whatever this says.
    /// </summary>
    public bool IsSynthetic { get; init; }

    /// <summary>When the processing ran: Content, Series, Instance Creation and Contribution date/time. Null: now.</summary>
    public DateTime? ProcessingTime { get; init; }
}

/// <summary>The IOD a synthetic image is written in.</summary>
public enum SyntheticIod
{
    /// <summary>Secondary Capture (PS3.3 A.8.1; multi-frame SC for several frames): any pixel description, no acquisition claimed.</summary>
    SecondaryCapture,

    /// <summary>Digital X-Ray Image, For Presentation (PS3.3 A.26): grayscale, unsigned, one frame; it needs an anatomic region.</summary>
    DigitalXRay,
}

/// <summary>
/// Who and what a synthetic image is filed under: a made-up patient and the study its series belongs to. Nothing here
/// is anybody's: the caller makes the identifiers (pseudonyms) and picks the dates from a synthetic range.
/// </summary>
public sealed record SyntheticSubject
{
    public required string PatientId { get; init; }
    /// <summary>Patient's Name (PN), e.g. "SYNTHETIC^P0001".</summary>
    public required string PatientName { get; init; }
    public required string StudyInstanceUid { get; init; }
    /// <summary>Study Date and Time; the series, content and creation dates are the builder's processing time.</summary>
    public required DateTime StudyDateTime { get; init; }
    public string StudyId { get; init; } = "";
    public string AccessionNumber { get; init; } = "";
    public string StudyDescription { get; init; } = "Synthetic images";
    public SyntheticIod Iod { get; init; } = SyntheticIod.SecondaryCapture;
    /// <summary>Body Part Examined (0018,0015), e.g. CHEST; empty when unknown.</summary>
    public string BodyPartExamined { get; init; } = "";
    /// <summary>Anatomic Region Sequence item (DX: Type 1, CID 4009), e.g. (51185008, SCT, "Chest").</summary>
    public DicomCodedEntry? AnatomicRegion { get; init; }
    /// <summary>View Position (0018,5101), e.g. AP or PA; empty when unknown.</summary>
    public string ViewPosition { get; init; } = "";
    /// <summary>
    /// Patient Orientation (0020,0020): the patient directions of the rows and the columns, e.g. L, F for a frontal
    /// chest radiograph shown as radiologists read it; empty when unknown (SC; DX needs both).
    /// </summary>
    public IReadOnlyList<string> PatientOrientation { get; init; } = [];
    /// <summary>
    /// DX: Imager Pixel Spacing (0018,1164) in mm, Type 1. A generated image was measured by no detector: this is the
    /// nominal spacing of the images the model was trained on, and Pixel Spacing Calibration Description says so.
    /// </summary>
    public double ImagerPixelSpacingMm { get; init; } = 1.0;
    /// <summary>De-identification Method (0012,0063, LO): says that the data are synthetic.</summary>
    public string DeidentificationMethod { get; init; } = "Synthetic image: generated, no patient data";
}
