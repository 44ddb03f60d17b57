using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;

namespace MedfusionDicom.Dicom.Derived;

/// <summary>A built instance, and why it was written as Secondary Capture instead of in its source's IOD (null when it was not).</summary>
public sealed record DerivedImage(DicomDataset Dataset, string? SecondaryCaptureReason)
{
    public string SopClassUid => Dataset.GetString(DicomTag.SOPClassUID);
    public string SopInstanceUid => Dataset.GetString(DicomTag.SOPInstanceUID);
    public string SeriesInstanceUid => Dataset.GetString(DicomTag.SeriesInstanceUID);

    /// <summary>The instance as a Part 10 file, to be written in explicit VR little endian (the pixels are native).</summary>
    public DicomFile ToFile() => new(Dataset);
}

/// <summary>
/// Builds derived and synthetic image instances (PS3.3 C.7.6.1 General Image "derived" attributes, C.12.1 SOP Common
/// Contributing Equipment and Synthetic Data). A derived image keeps its source's SOP class (CT, MR, CR, DX, SC, the
/// multi-frame SCs, Enhanced CT/MR/XA) and everything the source says about the patient, study, equipment, frame of
/// reference, image plane and acquisition, with new pixels, a new series and instance, and references back to the
/// source. It has as many frames as its source, frame i made from source frame i; an enhanced source's functional
/// groups come over item for item. Where the new pixels cannot be valid in the source's IOD (colour from a CT, 8 bits
/// from an MR, frames from a single-frame IOD or from XA, ...) it is written as Secondary Capture (one frame: SC,
/// which allows any pixel description; several: Multi-frame Grayscale Byte or Word, or True Color SC), and
/// <see cref="DerivedImage.SecondaryCaptureReason"/> says why; an enhanced source whose pixels do not fit is refused
/// instead, as SC would drop its per-frame functional groups. Without a source it writes a synthetic, de-identified
/// Secondary Capture image in a study of its own.
/// One builder serves one output series: its series UID, time and number are shared by every image it builds.
/// </summary>
public sealed partial class DerivedImageBuilder
{
    private const string CT = "1.2.840.10008.5.1.4.1.1.2";
    private const string MR = "1.2.840.10008.5.1.4.1.1.4";
    private const string CR = "1.2.840.10008.5.1.4.1.1.1";
    private const string DXPresentation = "1.2.840.10008.5.1.4.1.1.1.1";
    private const string DXProcessing = "1.2.840.10008.5.1.4.1.1.1.1.1";
    private const string SC = "1.2.840.10008.5.1.4.1.1.7";
    private const string MultiFrameByteSC = "1.2.840.10008.5.1.4.1.1.7.2";
    private const string MultiFrameWordSC = "1.2.840.10008.5.1.4.1.1.7.3";
    private const string MultiFrameTrueColorSC = "1.2.840.10008.5.1.4.1.1.7.4";
    private const string EnhancedCT = "1.2.840.10008.5.1.4.1.1.2.1";
    private const string EnhancedMR = "1.2.840.10008.5.1.4.1.1.4.1";
    private const string EnhancedXA = "1.2.840.10008.5.1.4.1.1.12.1.1";

    private static readonly HashSet<string> SecondaryCaptureClasses = [SC, MultiFrameByteSC, MultiFrameWordSC, MultiFrameTrueColorSC];

    /// <summary>
    /// Enhanced IODs the builder keeps: their frames are described by functional groups (PS3.3 C.7.6.16), which a
    /// derived image carries over frame by frame.
    /// </summary>
    private static readonly HashSet<string> EnhancedClasses = [EnhancedCT, EnhancedMR, EnhancedXA];

    private readonly DerivedImageProcessing _processing;
    private readonly DateTime _time;
    // One new series per study the builder's sources belong to: a series lies in exactly one study.
    private readonly ConcurrentDictionary<string, DicomUID> _seriesByStudy = new(StringComparer.Ordinal);
    private readonly DicomUID _syntheticStudy;

    public DerivedImageBuilder(DerivedImageProcessing processing)
    {
        _processing = processing;
        _time = processing.ProcessingTime ?? DateTime.Now;
        CheckLength(processing.DerivationDescription, 1024, "DerivationDescription");
        CheckLength(processing.AlgorithmName, 64, "AlgorithmName");
        CheckLength(processing.AlgorithmVersion, 64, "AlgorithmVersion");
        CheckLength(processing.ModelName ?? "", 64, "ModelName");
        CheckLength(processing.Manufacturer, 64, "Manufacturer");
        CheckLength(processing.SeriesDescription, 64, "SeriesDescription");
        _syntheticStudy = NewUid("study");
    }

    /// <summary>
    /// A derived image of <paramref name="source"/> (any image of CT, MR, CR, DX, SC or Enhanced CT/MR/XA; others
    /// become SC), or, when <paramref name="source"/> is null, a synthetic Secondary Capture image.
    /// <paramref name="pixels"/> has the source's Number of Frames (1 when it has none).
    /// </summary>
    public DerivedImage Build(DicomDataset? source, DerivedPixelData pixels, int instanceNumber)
    {
        CheckPixels(pixels);
        return source is null ? BuildSynthetic(DefaultSubject(), pixels, instanceNumber) : BuildDerived(source, pixels, instanceNumber);
    }

    private DerivedImage BuildDerived(DicomDataset source, DerivedPixelData pixels, int instanceNumber)
    {
        var sourceClass = source.GetStringOrDefault(DicomTag.SOPClassUID);
        var sourceInstance = source.GetStringOrDefault(DicomTag.SOPInstanceUID);
        var study = source.GetStringOrDefault(DicomTag.StudyInstanceUID);
        if (sourceClass.Length == 0 || sourceInstance.Length == 0 || study.Length == 0)
            throw new DicomValueException("the source has no SOP Class, SOP Instance or Study Instance UID; it cannot be referenced");
        // Frame i of the new image is made from frame i of the source: per-frame attributes (timing, functional
        // groups) are carried one to one, which only holds when the counts agree.
        var sourceFrames = source.TryGetSingleValue<int>(DicomTag.NumberOfFrames, out var n) ? n : 1;
        if (pixels.NumberOfFrames != sourceFrames)
            throw new DicomValueException($"the source has {sourceFrames} frames and the new pixel data {pixels.NumberOfFrames}: a derived image has one frame per source frame");
        var enhanced = EnhancedClasses.Contains(sourceClass);
        var reason = WhyNotKept(sourceClass, pixels);
        // As Secondary Capture an enhanced image would lose its functional groups (per-frame position, timing,
        // acquisition): refused rather than dropped.
        if (reason is not null && enhanced)
            throw new DicomValueException($"{reason}; written as Secondary Capture it would lose its per-frame functional groups");
        var sopClass = reason is null ? sourceClass : SecondaryCaptureClass(pixels);

        // '&', not '&&': both sizes are read whatever the first gives.
        var geometryChanged = source.TryGetSingleValue<int>(DicomTag.Rows, out var oldRows)
            & source.TryGetSingleValue<int>(DicomTag.Columns, out var oldColumns)
            && (oldRows != pixels.Rows || oldColumns != pixels.Columns);
        var ds = CopyForDerivation(source);
        // The new pixels are native whatever the source's transfer syntax was (JPEG, big endian, ...).
        ds.InternalTransferSyntax = DicomTransferSyntax.ExplicitVRLittleEndian;
        DeclareCharacterSet(ds);
        if (geometryChanged) Regrid(ds, (double)oldRows / pixels.Rows, (double)oldColumns / pixels.Columns);
        HarmonizeLaterality(ds);

        var series = _seriesByStudy.GetOrAdd(study, s => NewUid("series", s));
        SetIdentity(ds, sopClass, series, NewUid("instance", series.UID, sourceInstance, Invariant(instanceNumber)), instanceNumber);
        var sourceType = source.TryGetString(DicomTag.ImageType, out var t) ? t.Split('\\') : [];
        ds.AddOrUpdate(DicomTag.ImageType, DerivedType(sourceType));

        var sourceItem = new DicomDataset()
            .AddOrUpdate(DicomTag.ReferencedSOPClassUID, sourceClass)
            .AddOrUpdate(DicomTag.ReferencedSOPInstanceUID, sourceInstance)
            .AddOrUpdate(DicomTag.PurposeOfReferenceCodeSequence, DicomCodes.SourceImageForImageProcessingOperation.ToItem())
            // Whether every pixel is still where the source's was (PS3.3 C.7.6.1.1.3): not after a change of grid.
            .AddOrUpdate(DicomTag.SpatialLocationsPreserved, geometryChanged ? "NO" : "YES");
        ds.AddOrUpdate(DicomTag.SourceImageSequence, sourceItem);

        // A burned-in annotation of the source survives denoising or resampling; we never add one.
        var burnedIn = source.GetStringOrDefault(DicomTag.BurnedInAnnotation) == "YES" ? "YES" : "NO";
        ds.AddOrUpdate(DicomTag.BurnedInAnnotation, burnedIn);
        CarryLossyCompression(source, ds);
        // PS3.3 C.12.1: content derived from synthetic data is synthetic too.
        var synthetic = _processing.IsSynthetic || source.GetStringOrDefault(DicomTag.SyntheticData) == "YES";
        AddProcessing(ds, synthetic, synthesizing: _processing.IsSynthetic);

        SetPixels(ds, pixels, source);
        if (enhanced) SetEnhancedDerivation(ds, source, sourceItem, pixels);
        if (sopClass == CT && !ds.Contains(DicomTag.RescaleSlope))
            throw new DicomValueException("a CT image needs Rescale Slope and Intercept (Hounsfield units): give them with the pixel data");
        if (sopClass is DXPresentation or DXProcessing or CR) EnsureXRayPresentation(ds, pixels, sopClass);
        if (SecondaryCaptureClasses.Contains(sopClass))
        {
            AddSecondaryCaptureEquipment(ds, synthetic ? "SYN" : "WSD");
            SetSecondaryCaptureImage(ds, sopClass, pixels.NumberOfFrames);
        }
        return new DerivedImage(ds, reason);
    }

    /// <summary>Image Type of a derived image: DERIVED, SECONDARY, then the source's own values 3 and on (flavour, contrast).</summary>
    private static string[] DerivedType(IEnumerable<string> sourceType) => ["DERIVED", "SECONDARY", .. sourceType.Skip(2)];

    /// <summary>
    /// Why the new pixels cannot stay in the source's IOD (PS3.3 A.3 CT, A.4 MR, A.2 CR, A.26 DX, A.8 SC, A.38 Enhanced
    /// CT, A.36 Enhanced MR, A.47 Enhanced XA), or null.
    /// </summary>
    private static string? WhyNotKept(string sopClass, DerivedPixelData p)
    {
        if (sopClass == SC) return null;
        var name = DicomUID.Lookup(sopClass).Name;
        if (sopClass is MultiFrameByteSC or MultiFrameWordSC or MultiFrameTrueColorSC)
        {
            var fitting = MultiFrameSecondaryCapture(p, out var why);
            return fitting == sopClass ? null : $"{name} does not hold the new pixel data: {why ?? DicomUID.Lookup(fitting!).Name + " does"}";
        }
        if (sopClass is not (CT or MR or CR or DXPresentation or DXProcessing) && !EnhancedClasses.Contains(sopClass))
            return $"{name} is not an IOD the builder writes derived images in (CT, MR, CR, DX, SC, Enhanced CT/MR/XA)";
        if (p.NumberOfFrames != 1 && !EnhancedClasses.Contains(sopClass))
            return $"{name} is single-frame; the source and the new pixel data have {p.NumberOfFrames} frames";
        if (p.SamplesPerPixel != 1 || p.PhotometricInterpretation is not ("MONOCHROME1" or "MONOCHROME2"))
            return $"{name} is grayscale (MONOCHROME1/2); the new pixel data is {p.PhotometricInterpretation}";
        return sopClass switch
        {
            CT when p.BitsAllocated != 16 || p.BitsStored < 12 || p.HighBit != p.BitsStored - 1 =>
                $"{name} needs Bits Allocated 16, Bits Stored 12 to 16 (C.8.2.1); the new pixel data has {p.BitsAllocated}/{p.BitsStored}",
            MR when p.BitsAllocated != 16 =>
                $"{name} needs Bits Allocated 16 (C.8.3.1); the new pixel data has {p.BitsAllocated}",
            DXPresentation or DXProcessing when p.BitsAllocated is not (8 or 16) || p.BitsStored < 6 || p.PixelRepresentation != 0 =>
                $"{name} needs unsigned pixels of 8 or 16 bits allocated, 6 to 16 stored (C.8.11.3); the new pixel data has {p.BitsAllocated}/{p.BitsStored}, representation {p.PixelRepresentation}",
            EnhancedCT when p.PhotometricInterpretation != "MONOCHROME2" || p.BitsAllocated != 16 || p.BitsStored is not (12 or 16) =>
                $"{name} needs MONOCHROME2, Bits Allocated 16, Bits Stored 12 or 16 (C.8.15.2.1.1); the new pixel data is {p.PhotometricInterpretation} {p.BitsAllocated}/{p.BitsStored}",
            EnhancedMR when p.PhotometricInterpretation != "MONOCHROME2" || (p.BitsAllocated, p.BitsStored) is not ((8, 8) or (16, 12) or (16, 16)) =>
                $"{name} needs MONOCHROME2 with Bits Allocated/Stored 8/8, 16/12 or 16/16 (C.8.13.1.1.1); the new pixel data is {p.PhotometricInterpretation} {p.BitsAllocated}/{p.BitsStored}",
            EnhancedXA when p.PhotometricInterpretation != "MONOCHROME2" || p.PixelRepresentation != 0 || (p.BitsAllocated, p.BitsStored) is not ((8, 8) or (16, 10) or (16, 12) or (16, 16)) =>
                $"{name} needs unsigned MONOCHROME2 with Bits Allocated/Stored 8/8, 16/10, 16/12 or 16/16 (C.8.19.2.1); the new pixel data is {p.PhotometricInterpretation} {p.BitsAllocated}/{p.BitsStored}, representation {p.PixelRepresentation}",
            _ => null,
        };
    }

    /// <summary>The Secondary Capture class for pixels that no other IOD holds: single-frame SC, or a multi-frame SC.</summary>
    private static string SecondaryCaptureClass(DerivedPixelData p)
    {
        if (p.NumberOfFrames == 1) return SC;
        return MultiFrameSecondaryCapture(p, out var why) ?? throw new DicomValueException(
            $"no Secondary Capture IOD holds {p.NumberOfFrames} frames of {p.PhotometricInterpretation} {p.BitsAllocated}/{p.BitsStored} bits, representation {p.PixelRepresentation}: {why}");
    }

    /// <summary>
    /// The multi-frame SC IOD whose Image Pixel constraints the pixels meet (PS3.3 A.8.3.4 Grayscale Byte, A.8.4.4
    /// Grayscale Word, A.8.5.4 True Color), or null with what is wrong in <paramref name="why"/>.
    /// </summary>
    private static string? MultiFrameSecondaryCapture(DerivedPixelData p, out string? why)
    {
        why = null;
        if (p.SamplesPerPixel == 3)
        {
            if (p is { PhotometricInterpretation: "RGB", BitsAllocated: 8, BitsStored: 8, PixelRepresentation: 0 }) return MultiFrameTrueColorSC;
            why = "multi-frame colour is RGB with 8 bits allocated and stored, unsigned (A.8.5.4)";
            return null;
        }
        if (p.PhotometricInterpretation != "MONOCHROME2" || p.PixelRepresentation != 0)
            why = "multi-frame grayscale is unsigned MONOCHROME2 (A.8.3.4, A.8.4.4)";
        else if (p.BitsAllocated == 8 && p.BitsStored == 8) return MultiFrameByteSC;
        else if (p.BitsAllocated == 16 && p.BitsStored >= 9) return MultiFrameWordSC;
        else why = "multi-frame grayscale has 8 bits allocated and stored (Byte, A.8.3.4) or 16 allocated and 9 to 16 stored (Word, A.8.4.4)";
        return null;
    }

    /// <summary>Attributes of the source that describe its pixels, its own identity or its series: not true of a derived image.</summary>
    private static readonly HashSet<uint> NotCarried =
    [
        .. new[]
        {
            DicomTag.PixelData, DicomTag.FloatPixelData, DicomTag.DoubleFloatPixelData, DicomTag.Rows, DicomTag.Columns,
            DicomTag.SamplesPerPixel, DicomTag.PhotometricInterpretation, DicomTag.BitsAllocated, DicomTag.BitsStored,
            DicomTag.HighBit, DicomTag.PixelRepresentation, DicomTag.PlanarConfiguration, DicomTag.NumberOfFrames,
            DicomTag.FrameIncrementPointer, DicomTag.SmallestImagePixelValue, DicomTag.LargestImagePixelValue,
            DicomTag.SmallestPixelValueInSeries, DicomTag.LargestPixelValueInSeries, DicomTag.PixelPaddingValue,
            DicomTag.PixelPaddingRangeLimit, DicomTag.RescaleSlope, DicomTag.RescaleIntercept, DicomTag.RescaleType,
            DicomTag.ModalityLUTSequence, DicomTag.WindowCenter, DicomTag.WindowWidth, DicomTag.WindowCenterWidthExplanation,
            DicomTag.VOILUTFunction, DicomTag.VOILUTSequence, DicomTag.RedPaletteColorLookupTableDescriptor,
            DicomTag.GreenPaletteColorLookupTableDescriptor, DicomTag.BluePaletteColorLookupTableDescriptor,
            DicomTag.PaletteColorLookupTableUID, DicomTag.RedPaletteColorLookupTableData,
            DicomTag.GreenPaletteColorLookupTableData, DicomTag.BluePaletteColorLookupTableData,
            DicomTag.SegmentedRedPaletteColorLookupTableData, DicomTag.SegmentedGreenPaletteColorLookupTableData,
            DicomTag.SegmentedBluePaletteColorLookupTableData, DicomTag.ICCProfile, DicomTag.IconImageSequence,
            DicomTag.SOPInstanceUID, DicomTag.InstanceCreationDate, DicomTag.InstanceCreationTime, DicomTag.InstanceCreatorUID,
            DicomTag.SeriesInstanceUID, DicomTag.SeriesNumber, DicomTag.SeriesDescription, DicomTag.SeriesDate, DicomTag.SeriesTime,
            DicomTag.PerformedProcedureStepStartDate, DicomTag.PerformedProcedureStepStartTime,
            DicomTag.PerformedProcedureStepID, DicomTag.PerformedProcedureStepDescription,
            DicomTag.ReferencedPerformedProcedureStepSequence, DicomTag.InstanceNumber, DicomTag.ImageType,
            DicomTag.DerivationDescription, DicomTag.DerivationCodeSequence, DicomTag.SourceImageSequence,
            DicomTag.ContentDate, DicomTag.ContentTime, DicomTag.ImageComments, DicomTag.LossyImageCompression,
            DicomTag.LossyImageCompressionRatio, DicomTag.LossyImageCompressionMethod,
            DicomTag.DigitalSignaturesSequence, DicomTag.MACParametersSequence, DicomTag.DataSetTrailingPadding,
        }.Select(t => t.Value),
    ];

    /// <summary>
    /// The source without what <see cref="NotCarried"/> lists, without private attributes (vendors keep pixel scaling
    /// and reconstruction state there, which the new pixels contradict) and without retired curves (50xx).
    /// </summary>
    private static DicomDataset CopyForDerivation(DicomDataset source)
    {
        var ds = source.Clone();
        foreach (var tag in ds.Select(i => i.Tag).ToList())
            if (tag.IsPrivate || NotCarried.Contains(tag.Value) || (tag.Group & 0xFF00) == 0x5000 || tag.Group == 0x0002)
                ds.Remove(tag);
        return ds;
    }

    /// <summary>
    /// A new pixel grid over the same field of view (super-resolution, resampling): the spacings scale with the matrix,
    /// and the first pixel's centre (Image Position) moves by half the change of spacing along each axis, for the
    /// image as a whole and for each frame of an enhanced image (its Pixel Measures and Plane Position functional
    /// groups). <paramref name="rowScale"/> and <paramref name="columnScale"/> are the old size over the new one.
    /// Attributes in the source's pixel coordinates (overlays, shutters) no longer fit and are dropped.
    /// </summary>
    private static void Regrid(DicomDataset ds, double rowScale, double columnScale)
    {
        // Positions first: they move by the old spacing, which the second pass replaces.
        MoveFirstPixel(ds, ds, ds, rowScale, columnScale);
        var shared = FunctionalGroups(ds, DicomTag.SharedFunctionalGroupsSequence).FirstOrDefault();
        foreach (var frame in FunctionalGroups(ds, DicomTag.PerFrameFunctionalGroupsSequence).Append(shared))
        {
            if (frame is null) continue;
            var position = Macro(frame, DicomTag.PlanePositionSequence);
            var measures = Macro(frame, DicomTag.PixelMeasuresSequence) ?? Macro(shared, DicomTag.PixelMeasuresSequence);
            var orientation = Macro(frame, DicomTag.PlaneOrientationSequence) ?? Macro(shared, DicomTag.PlaneOrientationSequence);
            if (position is not null && measures is not null && orientation is not null)
                MoveFirstPixel(position, measures, orientation, rowScale, columnScale);
        }
        ScaleSpacings(ds, rowScale, columnScale);
        // Spacings sit in several functional groups (Pixel Measures; X-ray frame pixel data properties, ...).
        foreach (var group in FunctionalGroups(ds, DicomTag.SharedFunctionalGroupsSequence).Concat(FunctionalGroups(ds, DicomTag.PerFrameFunctionalGroupsSequence)))
            foreach (var macro in group.OfType<DicomSequence>().SelectMany(sq => sq.Items))
                ScaleSpacings(macro, rowScale, columnScale);
        foreach (var tag in ds.Select(i => i.Tag).ToList())
            if ((tag.Group & 0xFF00) == 0x6000 || (tag.Group == 0x0018 && tag.Element is >= 0x1600 and <= 0x1624) || tag == DicomTag.PixelAspectRatio)
                ds.Remove(tag);
    }

    private static void ScaleSpacings(DicomDataset ds, double rowScale, double columnScale)
    {
        foreach (var tag in new[] { DicomTag.PixelSpacing, DicomTag.ImagerPixelSpacing, DicomTag.NominalScannedPixelSpacing })
        {
            // PS3.3 10.7.1.3: value 1 is the spacing between rows, value 2 between columns.
            if (ds[tag] is not DicomElement || ds.GetValueCount(tag) != 2) continue;
            var v = ds.GetValues<double>(tag);
            ds.AddOrUpdate(tag, v[0] * rowScale, v[1] * columnScale);
        }
    }

    /// <summary>Moves the Image Position in <paramref name="position"/> by half the change of the (old) Pixel Spacing in <paramref name="measures"/>.</summary>
    private static void MoveFirstPixel(DicomDataset position, DicomDataset measures, DicomDataset orientation, double rowScale, double columnScale)
    {
        if (measures.GetValueCount(DicomTag.PixelSpacing) != 2 || position.GetValueCount(DicomTag.ImagePositionPatient) != 3
            || orientation.GetValueCount(DicomTag.ImageOrientationPatient) != 6)
            return;
        var spacing = measures.GetValues<double>(DicomTag.PixelSpacing);
        var p = position.GetValues<double>(DicomTag.ImagePositionPatient);
        var o = orientation.GetValues<double>(DicomTag.ImageOrientationPatient);
        // o[0..2]: direction of increasing column index (spaced by value 2); o[3..5]: of increasing row index.
        var alongRow = 0.5 * (spacing[1] * columnScale - spacing[1]);
        var alongColumn = 0.5 * (spacing[0] * rowScale - spacing[0]);
        position.AddOrUpdate(DicomTag.ImagePositionPatient,
            p[0] + alongRow * o[0] + alongColumn * o[3],
            p[1] + alongRow * o[1] + alongColumn * o[4],
            p[2] + alongRow * o[2] + alongColumn * o[5]);
    }

    /// <summary>The items of a functional groups sequence (shared: one; per-frame: one a frame), none when it is absent.</summary>
    private static IEnumerable<DicomDataset> FunctionalGroups(DicomDataset ds, DicomTag tag) =>
        ds.TryGetSequence(tag, out var sq) ? sq.Items : [];

    /// <summary>The one item of a functional group macro's sequence in a functional groups item, or null.</summary>
    private static DicomDataset? Macro(DicomDataset? group, DicomTag tag) =>
        group is not null && group.TryGetSequence(tag, out var sq) && sq.Items.Count > 0 ? sq.Items[0] : null;

    /// <summary>Body Part Examined terms of unpaired structures (PS3.16 Annex L: laterality does not apply).</summary>
    private static readonly HashSet<string> UnpairedBodyParts = new(StringComparer.Ordinal)
    {
        "ABDOMEN", "ABDOMENPELVIS", "AORTA", "BLADDER", "BRAIN", "CHEST", "CHESTABDOMEN", "CHESTABDPELVIS", "COCCYX",
        "COLON", "CORONARYARTERY", "CSPINE", "CTSPINE", "DUODENUM", "ESOPHAGUS", "GALLBLADDER", "HEAD", "HEADNECK",
        "HEART", "LARYNX", "LIVER", "LSPINE", "LSSPINE", "MEDIASTINUM", "NECK", "PANCREAS", "PELVIS", "PROSTATE",
        "RECTUM", "SKULL", "SPINE", "SPLEEN", "SSPINE", "STERNUM", "STOMACH", "THYROID", "TLSPINE", "TRACHEA", "TSPINE",
        "UTERUS", "WHOLEBODY",
    };

    /// <summary>
    /// General Series Laterality (0020,0060) is Type 2C (PS3.3 C.7.3.1): required for a paired body part unless Image
    /// Laterality (0020,0062, DX, CR, XA, SC, mammography ...) or Frame Laterality (0020,9072, enhanced IODs) says the
    /// side, and not allowed otherwise. Sources often get it wrong (an empty one on a heart); a derived series gets
    /// it right: absent for an unpaired part or when the image or every frame is sided, else present (empty when
    /// unknown), keeping the source's value.
    /// </summary>
    private static void HarmonizeLaterality(DicomDataset ds)
    {
        var shared = FunctionalGroups(ds, DicomTag.SharedFunctionalGroupsSequence).FirstOrDefault();
        var frames = FunctionalGroups(ds, DicomTag.PerFrameFunctionalGroupsSequence).ToList();
        bool FrameSided(DicomDataset? group) => Macro(group, DicomTag.FrameAnatomySequence)?.Contains(DicomTag.FrameLaterality) == true;
        var framesSided = FrameSided(shared) || (frames.Count > 0 && frames.All(FrameSided));
        var bodyPart = ds.GetStringOrDefault(DicomTag.BodyPartExamined).Trim().ToUpperInvariant();
        if (ds.Contains(DicomTag.ImageLaterality) || framesSided || UnpairedBodyParts.Contains(bodyPart))
            ds.Remove(DicomTag.Laterality);
        else if (!ds.Contains(DicomTag.Laterality))
            SetEmpty(ds, DicomTag.Laterality);
    }

    private void SetIdentity(DicomDataset ds, string sopClass, DicomUID series, DicomUID instance, int instanceNumber)
    {
        ds.AddOrUpdate(DicomTag.SOPClassUID, sopClass);
        ds.AddOrUpdate(DicomTag.SOPInstanceUID, instance.UID);
        ds.AddOrUpdate(DicomTag.InstanceCreationDate, _time);
        ds.AddOrUpdate(DicomTag.InstanceCreationTime, _time);
        ds.AddOrUpdate(DicomTag.SeriesInstanceUID, series.UID);
        ds.AddOrUpdate(DicomTag.SeriesNumber, _processing.SeriesNumber);
        ds.AddOrUpdate(DicomTag.SeriesDescription, _processing.SeriesDescription);
        ds.AddOrUpdate(DicomTag.SeriesDate, _time);
        ds.AddOrUpdate(DicomTag.SeriesTime, _time);
        ds.AddOrUpdate(DicomTag.InstanceNumber, instanceNumber);
        ds.AddOrUpdate(DicomTag.ContentDate, _time);
        ds.AddOrUpdate(DicomTag.ContentTime, _time);
    }

    /// <summary>Derivation Description and Code Sequence, Synthetic Data, and our item of the Contributing Equipment Sequence.</summary>
    private void AddProcessing(DicomDataset ds, bool synthetic, bool synthesizing)
    {
        var p = _processing;
        ds.AddOrUpdate(DicomTag.DerivationDescription, p.DerivationDescription);
        if (p.DerivationCodes.Count > 0) ds.AddOrUpdate(DicomTag.DerivationCodeSequence, p.DerivationCodes.Select(c => c.ToItem()).ToArray());
        if (synthetic) ds.AddOrUpdate(DicomTag.SyntheticData, "YES");

        // Denoising a synthetic image makes synthetic data, but the denoiser is processing, not synthesizing, equipment.
        var purpose = synthesizing ? DicomCodes.SynthesizingEquipment : DicomCodes.ProcessingEquipment;
        // The item takes the dataset's character set (it is encoded as its values are set).
        var equipment = new DicomDataset { Parent = ds }
            .AddOrUpdate(DicomTag.PurposeOfReferenceCodeSequence, purpose.ToItem())
            .AddOrUpdate(DicomTag.Manufacturer, p.Manufacturer)
            .AddOrUpdate(DicomTag.ManufacturerModelName, p.AlgorithmName)
            .AddOrUpdate(DicomTag.SoftwareVersions, p.ModelName is null ? new[] { p.AlgorithmVersion } : new[] { p.AlgorithmVersion, p.ModelName })
            .AddOrUpdate(DicomTag.ContributionDateTime, _time)
            .AddOrUpdate(DicomTag.ContributionDescription, p.DerivationDescription);
        // Earlier contributors (the source's own processing, de-identification) stay; we are the last.
        var items = ds.TryGetSequence(DicomTag.ContributingEquipmentSequence, out var earlier) ? earlier.Items.ToList() : [];
        items.Add(equipment);
        ds.AddOrUpdate(DicomTag.ContributingEquipmentSequence, items.ToArray());
    }

    /// <summary>
    /// Lossy Image Compression (PS3.3 C.7.6.1.1.5): once lossy, always lossy: "01" with the source's ratio and method
    /// when it says so or arrived in a lossy transfer syntax, else "00".
    /// </summary>
    private static void CarryLossyCompression(DicomDataset source, DicomDataset ds)
    {
        var lossy = source.GetStringOrDefault(DicomTag.LossyImageCompression) == "01" || source.InternalTransferSyntax.IsLossy;
        ds.AddOrUpdate(DicomTag.LossyImageCompression, lossy ? "01" : "00");
        if (!lossy) return;
        foreach (var tag in new[] { DicomTag.LossyImageCompressionRatio, DicomTag.LossyImageCompressionMethod })
            if (source[tag] is { } item) ds.AddOrUpdate(item.Clone());
        if (!ds.Contains(DicomTag.LossyImageCompressionMethod) && source.InternalTransferSyntax.IsLossy)
        {
            var method = LossyMethod(source.InternalTransferSyntax);
            if (method is not null) ds.AddOrUpdate(DicomTag.LossyImageCompressionMethod, method);
        }
    }

    /// <summary>The Defined Term of Lossy Image Compression Method (C.7.6.1.1.5.1) for a lossy transfer syntax.</summary>
    private static string? LossyMethod(DicomTransferSyntax syntax) => syntax.UID.UID switch
    {
        "1.2.840.10008.1.2.4.50" or "1.2.840.10008.1.2.4.51" => "ISO_10918_1",
        "1.2.840.10008.1.2.4.81" => "ISO_14495_1",
        "1.2.840.10008.1.2.4.91" or "1.2.840.10008.1.2.4.93" => "ISO_15444_1",
        _ => null,
    };

    /// <summary>The Image Pixel module, and the Modality and VOI LUT attributes, from the new pixel data.</summary>
    private static void SetPixels(DicomDataset ds, DerivedPixelData p, DicomDataset? source)
    {
        ds.AddOrUpdate(DicomTag.Rows, (ushort)p.Rows);
        ds.AddOrUpdate(DicomTag.Columns, (ushort)p.Columns);
        ds.AddOrUpdate(DicomTag.SamplesPerPixel, (ushort)p.SamplesPerPixel);
        ds.AddOrUpdate(DicomTag.PhotometricInterpretation, p.PhotometricInterpretation);
        if (p.SamplesPerPixel > 1) ds.AddOrUpdate(DicomTag.PlanarConfiguration, (ushort)0);
        ds.AddOrUpdate(DicomTag.BitsAllocated, (ushort)p.BitsAllocated);
        ds.AddOrUpdate(DicomTag.BitsStored, (ushort)p.BitsStored);
        ds.AddOrUpdate(DicomTag.HighBit, (ushort)p.HighBit);
        ds.AddOrUpdate(DicomTag.PixelRepresentation, (ushort)p.PixelRepresentation);
        if (p.NumberOfFrames > 1) ds.AddOrUpdate(DicomTag.NumberOfFrames, p.NumberOfFrames);

        if (p.RescaleSlope is { } slope && p.RescaleIntercept is { } intercept)
        {
            ds.AddOrUpdate(DicomTag.RescaleIntercept, intercept);
            ds.AddOrUpdate(DicomTag.RescaleSlope, slope);
            if (p.RescaleType is { Length: > 0 } type) ds.AddOrUpdate(DicomTag.RescaleType, type);
        }
        // A colour image has no Modality LUT: the source's rescale describes its grayscale values, not these.
        else if (source is not null && p.SamplesPerPixel == 1)
        {
            foreach (var tag in new[] { DicomTag.RescaleIntercept, DicomTag.RescaleSlope, DicomTag.RescaleType })
                if (source[tag] is { } item) ds.AddOrUpdate(item.Clone());
        }
        if (p.WindowCenter is { Count: > 0 } centers && p.WindowWidth is { } widths)
        {
            ds.AddOrUpdate(DicomTag.WindowCenter, centers.ToArray());
            ds.AddOrUpdate(DicomTag.WindowWidth, widths.ToArray());
        }
        // 8-bit samples are OB; wider ones OW (PS3.5 8.2 native format).
        var vr = p.BitsAllocated == 8 ? DicomVR.OB : DicomVR.OW;
        ds.AddOrUpdate(new DicomElement(DicomTag.PixelData, vr, p.Data));
    }

    /// <summary>
    /// DX and CR images need a Modality LUT and, for presentation, a window (PS3.3 C.8.11.3: Rescale Slope/Intercept
    /// Type 1, Rescale Type US; VOI LUT Type 1C when FOR PRESENTATION); the window defaults to the whole range.
    /// </summary>
    private static void EnsureXRayPresentation(DicomDataset ds, DerivedPixelData p, string sopClass)
    {
        if (sopClass == CR) return;
        if (!ds.Contains(DicomTag.RescaleSlope))
        {
            ds.AddOrUpdate(DicomTag.RescaleIntercept, 0.0);
            ds.AddOrUpdate(DicomTag.RescaleSlope, 1.0);
        }
        ds.AddOrUpdate(DicomTag.RescaleType, "US");
        if (sopClass == DXPresentation && !ds.Contains(DicomTag.WindowCenter) && !ds.Contains(DicomTag.VOILUTSequence))
        {
            var (min, max) = StoredRange(p);
            var slope = ds.GetSingleValue<double>(DicomTag.RescaleSlope);
            var intercept = ds.GetSingleValue<double>(DicomTag.RescaleIntercept);
            double a = min * slope + intercept, b = max * slope + intercept;
            ds.AddOrUpdate(DicomTag.WindowCenter, (a + b) / 2);
            ds.AddOrUpdate(DicomTag.WindowWidth, Math.Max(1.0, Math.Abs(b - a) + 1));
        }
    }

    /// <summary>
    /// What the SC Image module (PS3.3 C.8.6.2) and, for multi-frame SC, the SC Multi-frame Image module (C.8.6.3)
    /// and the IODs' constraints (A.8.3.4 Byte: Rescale Slope 1, Intercept 0; A.8.4.4 Word) ask beyond the pixel
    /// description: Rescale Type with a rescale, Presentation LUT Shape for grayscale, and a Frame Increment Pointer.
    /// </summary>
    private static void SetSecondaryCaptureImage(DicomDataset ds, string sopClass, int frames)
    {
        if (sopClass == SC)
        {
            // Type 1C with Rescale Slope and Intercept; US (unspecified) when the pixels' maker named no unit.
            if (ds.Contains(DicomTag.RescaleSlope) && !ds.Contains(DicomTag.RescaleType)) ds.AddOrUpdate(DicomTag.RescaleType, "US");
            return;
        }
        SetFrameIncrementPointer(ds, frames);
        if (sopClass == MultiFrameTrueColorSC) return;
        ds.AddOrUpdate(DicomTag.PresentationLUTShape, "IDENTITY");
        var slope = ds.Contains(DicomTag.RescaleSlope) ? ds.GetSingleValue<double>(DicomTag.RescaleSlope) : 1.0;
        var intercept = ds.Contains(DicomTag.RescaleIntercept) ? ds.GetSingleValue<double>(DicomTag.RescaleIntercept) : 0.0;
        if (sopClass == MultiFrameByteSC && (slope != 1 || intercept != 0))
            throw new DicomValueException($"Multi-frame Grayscale Byte SC stores unscaled values (PS3.3 A.8.3.4: Rescale Slope 1, Intercept 0); the new pixel data's rescale is slope {slope}, intercept {intercept}: give 16-bit pixels, which Grayscale Word SC may rescale");
        ds.AddOrUpdate(DicomTag.RescaleIntercept, intercept);
        ds.AddOrUpdate(DicomTag.RescaleSlope, slope);
        if (sopClass == MultiFrameByteSC || !ds.Contains(DicomTag.RescaleType)) ds.AddOrUpdate(DicomTag.RescaleType, "US");
    }

    /// <summary>
    /// The Frame Increment Pointer of a multi-frame SC (C.8.6.3): the source's frame timing when it has it for every
    /// frame (the Cine module's Frame Time or Frame Time Vector), else a Frame Label Vector (SC Multi-frame Vector
    /// module, C.8.6.4) that labels each frame with the number of the source frame it was made from.
    /// </summary>
    private static void SetFrameIncrementPointer(DicomDataset ds, int frames)
    {
        if (ds.GetValueCount(DicomTag.FrameTimeVector) == frames)
        {
            ds.Remove(DicomTag.FrameTime);
            ds.AddOrUpdate(DicomTag.FrameIncrementPointer, DicomTag.FrameTimeVector);
        }
        else if (ds.GetValueCount(DicomTag.FrameTime) == 1)
        {
            ds.Remove(DicomTag.FrameTimeVector);
            ds.AddOrUpdate(DicomTag.FrameIncrementPointer, DicomTag.FrameTime);
        }
        else
        {
            // Frame Time and Frame Time Vector are only allowed when the pointer names them (Cine module, Type 1C).
            ds.Remove(DicomTag.FrameTime);
            ds.Remove(DicomTag.FrameTimeVector);
            ds.AddOrUpdate(DicomTag.FrameLabelVector, Enumerable.Range(1, frames).Select(Invariant).ToArray());
            ds.AddOrUpdate(DicomTag.FrameIncrementPointer, DicomTag.FrameLabelVector);
        }
    }

    /// <summary>
    /// An enhanced image says what each frame is and where it came from in its functional groups (PS3.3 C.7.6.16):
    /// Image Type keeps its four values (C.8.13.1.1.1, C.8.15.2.1.1) with value 1 DERIVED, and so does each Frame
    /// Type (MR/CT Image Frame Type, X-ray frame characteristics, ...), and every frame gets a Derivation Image item
    /// that references its source frame. The General Image attributes that say this for a single-frame image are not part
    /// of the enhanced IODs and go. A new rescale or window replaces the frames' Pixel Value Transformation and Frame
    /// VOI LUT groups, shared by all frames, as the enhanced IODs have no top-level Modality or VOI LUT.
    /// </summary>
    private void SetEnhancedDerivation(DicomDataset ds, DicomDataset source, DicomDataset sourceItem, DerivedPixelData p)
    {
        var frames = FunctionalGroups(ds, DicomTag.PerFrameFunctionalGroupsSequence).ToList();
        if (frames.Count != p.NumberOfFrames)
            throw new DicomValueException($"the enhanced source has {frames.Count} Per-frame Functional Groups items for {p.NumberOfFrames} frames");
        if (_processing.DerivationCodes.Count == 0)
            throw new DicomValueException("an enhanced image's Derivation Image functional group needs a Derivation Code Sequence item (Type 1, CID 7203): give DerivationCodes");
        if (!ds.TryGetSequence(DicomTag.SharedFunctionalGroupsSequence, out var sharedSequence) || sharedSequence.Items.Count == 0)
            ds.AddOrUpdate(DicomTag.SharedFunctionalGroupsSequence, new DicomDataset());
        var shared = FunctionalGroups(ds, DicomTag.SharedFunctionalGroupsSequence).First();
        // Value 2 stays the source's: the enhanced IODs allow only PRIMARY there (MIXED in Image Type).
        ds.AddOrUpdate(DicomTag.ImageType, ["DERIVED", .. source.GetStringOrDefault(DicomTag.ImageType).Split('\\').Skip(1)]);
        foreach (var macro in frames.Append(shared).SelectMany(g => g.OfType<DicomSequence>()).SelectMany(sq => sq.Items))
            if (macro.TryGetString(DicomTag.FrameType, out var frameType))
                macro.AddOrUpdate(DicomTag.FrameType, ["DERIVED", .. frameType.Split('\\').Skip(1)]);
        // The MR Pulse Sequence module describes an acquisition and is only allowed in ORIGINAL or MIXED images
        // (C.8.13.4); each frame's MR functional groups still say how it was acquired.
        if (ds.GetString(DicomTag.SOPClassUID) == EnhancedMR)
            foreach (var tag in MRPulseSequenceModule) ds.Remove(tag);

        var codes = _processing.DerivationCodes.Select(c => c.ToItem()).ToArray();
        for (var i = 0; i < frames.Count; i++)
        {
            var reference = sourceItem.Clone().AddOrUpdate(DicomTag.ReferencedFrameNumber, i + 1);
            frames[i].AddOrUpdate(DicomTag.DerivationImageSequence, new DicomDataset()
                .AddOrUpdate(DicomTag.DerivationDescription, _processing.DerivationDescription)
                .AddOrUpdate(DicomTag.DerivationCodeSequence, codes.Select(c => c.Clone()).ToArray())
                .AddOrUpdate(DicomTag.SourceImageSequence, reference));
        }
        foreach (var tag in new[] { DicomTag.SourceImageSequence, DicomTag.DerivationDescription, DicomTag.DerivationCodeSequence })
            ds.Remove(tag);
        // Common Instance Reference (C.12.2): the instances referenced, by series.
        var sourceSeries = source.GetStringOrDefault(DicomTag.SeriesInstanceUID);
        ds.AddOrUpdate(DicomTag.ReferencedSeriesSequence, SeriesReference(sourceSeries, DicomTag.ReferencedInstanceSequence, sourceItem));
        // MR Image and Spectroscopy Instance macro (C.8.13.2): a DERIVED image lists the instances it was made from,
        // study by study (Hierarchical SOP Instance Reference macro, C.17.2.1).
        if (ds.GetString(DicomTag.SOPClassUID) == EnhancedMR)
            ds.AddOrUpdate(DicomTag.SourceImageEvidenceSequence, new DicomDataset()
                .AddOrUpdate(DicomTag.StudyInstanceUID, source.GetString(DicomTag.StudyInstanceUID))
                .AddOrUpdate(DicomTag.ReferencedSeriesSequence, SeriesReference(sourceSeries, DicomTag.ReferencedSOPSequence, sourceItem)));

        MoveToSharedGroup(ds, shared, frames, DicomTag.PixelValueTransformationSequence,
            p.RescaleSlope is null ? [] : [DicomTag.RescaleIntercept, DicomTag.RescaleSlope, DicomTag.RescaleType]);
        if (shared.TryGetSequence(DicomTag.PixelValueTransformationSequence, out var transformation) && !transformation.Items[0].Contains(DicomTag.RescaleType))
            transformation.Items[0].AddOrUpdate(DicomTag.RescaleType, "US");
        MoveToSharedGroup(ds, shared, frames, DicomTag.FrameVOILUTSequence,
            p.WindowCenter is null ? [] : [DicomTag.WindowCenter, DicomTag.WindowWidth]);
        // Whatever SetPixels carried at the top level has no place in an enhanced IOD.
        foreach (var tag in new[] { DicomTag.RescaleIntercept, DicomTag.RescaleSlope, DicomTag.RescaleType, DicomTag.WindowCenter, DicomTag.WindowWidth })
            ds.Remove(tag);
    }

    /// <summary>A Referenced Series Sequence item: the series, and the referenced instance as one item of <paramref name="instances"/>.</summary>
    private static DicomDataset SeriesReference(string series, DicomTag instances, DicomDataset reference) => new DicomDataset()
        .AddOrUpdate(DicomTag.SeriesInstanceUID, series)
        .AddOrUpdate(instances, new DicomDataset()
            .AddOrUpdate(DicomTag.ReferencedSOPClassUID, reference.GetString(DicomTag.ReferencedSOPClassUID))
            .AddOrUpdate(DicomTag.ReferencedSOPInstanceUID, reference.GetString(DicomTag.ReferencedSOPInstanceUID)));

    /// <summary>The MR Pulse Sequence module (PS3.3 C.8.13.4), all Type 1C on Image Type value 1 ORIGINAL or MIXED.</summary>
    private static readonly DicomTag[] MRPulseSequenceModule =
    [
        DicomTag.PulseSequenceName, DicomTag.MRAcquisitionType, DicomTag.EchoPulseSequence, DicomTag.MultipleSpinEcho,
        DicomTag.MultiPlanarExcitation, DicomTag.PhaseContrast, DicomTag.VelocityEncodingAcquisitionSequence,
        DicomTag.TimeOfFlightContrast, DicomTag.ArterialSpinLabelingContrast, DicomTag.SteadyStatePulseSequence,
        DicomTag.EchoPlanarPulseSequence, DicomTag.SaturationRecovery, DicomTag.SpectrallySelectedSuppression,
        DicomTag.OversamplingPhase, DicomTag.GeometryOfKSpaceTraversal, DicomTag.RectilinearPhaseEncodeReordering,
        DicomTag.SegmentedKSpaceTraversal, DicomTag.CoverageOfKSpace, DicomTag.NumberOfKSpaceTrajectories,
    ];

    /// <summary>
    /// The new pixels' values of <paramref name="tags"/> (set at the top level by SetPixels) as the one shared item of
    /// <paramref name="macro"/>, replacing every frame's own; nothing when the new pixels give none.
    /// </summary>
    private static void MoveToSharedGroup(DicomDataset ds, DicomDataset shared, List<DicomDataset> frames, DicomTag macro, DicomTag[] tags)
    {
        var item = new DicomDataset();
        foreach (var tag in tags)
            if (ds[tag] is { } value) item.AddOrUpdate(value.Clone());
        if (item.Count == 0) return;
        foreach (var frame in frames) frame.Remove(macro);
        shared.AddOrUpdate(macro, item);
    }

    /// <summary>The smallest and largest stored value of single-sample pixels of 8, 16 or 32 bits.</summary>
    private static (long Min, long Max) StoredRange(DerivedPixelData p)
    {
        var bytes = p.Data.Span;
        var size = p.BitsAllocated / 8;
        long min = long.MaxValue, max = long.MinValue;
        for (var i = 0; i + size <= bytes.Length; i += size)
        {
            ulong raw = size switch
            {
                1 => bytes[i],
                2 => BinaryPrimitives.ReadUInt16LittleEndian(bytes[i..]),
                _ => BinaryPrimitives.ReadUInt32LittleEndian(bytes[i..]),
            };
            var value = (long)(raw & ((1UL << p.BitsStored) - 1));
            // Two's complement within Bits Stored when signed.
            if (p.PixelRepresentation == 1 && (value & (1L << (p.BitsStored - 1))) != 0) value -= 1L << p.BitsStored;
            min = Math.Min(min, value);
            max = Math.Max(max, value);
        }
        return (min, max);
    }

    /// <summary>SC Equipment module (PS3.3 C.8.6.1): how the image was converted, and by what.</summary>
    private void AddSecondaryCaptureEquipment(DicomDataset ds, string conversionType)
    {
        ds.AddOrUpdate(DicomTag.ConversionType, conversionType);
        ds.AddOrUpdate(DicomTag.SecondaryCaptureDeviceManufacturer, _processing.Manufacturer);
        ds.AddOrUpdate(DicomTag.SecondaryCaptureDeviceManufacturerModelName, _processing.AlgorithmName);
        ds.AddOrUpdate(DicomTag.SecondaryCaptureDeviceSoftwareVersions, _processing.AlgorithmVersion);
        ds.AddOrUpdate(DicomTag.DateOfSecondaryCapture, _time);
        ds.AddOrUpdate(DicomTag.TimeOfSecondaryCapture, _time);
        // The SC IOD has no Image Plane module, so General Image's Patient Orientation (Type 2C) is required: the
        // letters of the source's direction cosines when it had them (PS3.3 C.7.6.1.1.1), else empty (unknown).
        if (ds.Contains(DicomTag.PatientOrientation)) return;
        if (ds.GetValueCount(DicomTag.ImageOrientationPatient) == 6)
        {
            var o = ds.GetValues<double>(DicomTag.ImageOrientationPatient);
            ds.AddOrUpdate(DicomTag.PatientOrientation, OrientationLetters(o[0], o[1], o[2]), OrientationLetters(o[3], o[4], o[5]));
        }
        else
        {
            SetEmpty(ds, DicomTag.PatientOrientation);
        }
    }

    /// <summary>
    /// The patient direction of a direction cosine: L/R, P/A, H/F for +/- x, y, z, the largest component first,
    /// components under 0.0001 (numerical noise of an axis-aligned plane) left out.
    /// </summary>
    public static string OrientationLetters(double x, double y, double z)
    {
        var letters = new[] { (Math.Abs(x), x > 0 ? 'L' : 'R'), (Math.Abs(y), y > 0 ? 'P' : 'A'), (Math.Abs(z), z > 0 ? 'H' : 'F') };
        return new string(letters.Where(l => l.Item1 > 1e-4).OrderByDescending(l => l.Item1).Select(l => l.Item2).ToArray());
    }

    /// <summary>
    /// Our texts are whatever the job was given; when one is not ASCII and the dataset names no character set, it is
    /// declared UTF-8 (ISO_IR 192) before any is encoded. A source that declares another set keeps it: re-encoding
    /// all its values is not the builder's business, so texts outside that set are the caller's to avoid.
    /// </summary>
    private void DeclareCharacterSet(DicomDataset ds, params string[] more)
    {
        var p = _processing;
        string[] texts = [p.DerivationDescription, p.AlgorithmName, p.AlgorithmVersion, p.ModelName ?? "", p.Manufacturer, p.SeriesDescription, .. more];
        if (texts.Any(s => s.Any(c => c > 0x7F)) && !ds.Contains(DicomTag.SpecificCharacterSet))
            ds.AddOrUpdate(DicomTag.SpecificCharacterSet, "ISO_IR 192");
    }

    /// <summary>A name-based UID on the job's seed and these parts, or a random one without a seed.</summary>
    private DicomUID NewUid(string role, params string[] parts) =>
        _processing.UidSeed is { } seed ? DicomUID.FromName([role, .. seed, .. parts]) : DicomUID.Generate();

    private static void CheckPixels(DerivedPixelData p)
    {
        if (p.Rows is < 1 or > ushort.MaxValue || p.Columns is < 1 or > ushort.MaxValue)
            throw new DicomValueException($"pixel data of {p.Rows} x {p.Columns}: rows and columns must be 1 to 65535");
        if (p.SamplesPerPixel is not (1 or 3) || p.NumberOfFrames < 1)
            throw new DicomValueException($"{p.SamplesPerPixel} samples per pixel, {p.NumberOfFrames} frames: 1 or 3 samples and at least one frame");
        if (p.BitsAllocated is not (8 or 16 or 32) || p.BitsStored < 1 || p.BitsStored > p.BitsAllocated || p.HighBit != p.BitsStored - 1)
            throw new DicomValueException($"bits allocated/stored/high bit {p.BitsAllocated}/{p.BitsStored}/{p.HighBit}: allocated 8, 16 or 32, stored up to that, high bit = stored - 1");
        if (p.PixelRepresentation is not (0 or 1))
            throw new DicomValueException($"pixel representation {p.PixelRepresentation}: 0 (unsigned) or 1 (signed)");
        if (p.Data.Length != p.ExpectedLength)
            throw new DicomValueException($"pixel data has {p.Data.Length} bytes; {p.Rows} x {p.Columns} x {p.SamplesPerPixel} samples x {p.BitsAllocated / 8} bytes x {p.NumberOfFrames} frames is {p.ExpectedLength}");
        if ((p.WindowCenter is null) != (p.WindowWidth is null) || (p.WindowCenter is { } c && c.Count != p.WindowWidth!.Count))
            throw new DicomValueException("window centers and widths come in pairs");
        if ((p.RescaleSlope is null) != (p.RescaleIntercept is null))
            throw new DicomValueException("rescale slope and intercept come together");
    }

    private static void CheckLength(string value, int max, string what)
    {
        if (value.Length > max) throw new DicomValueException($"{what} has {value.Length} characters; at most {max} fit");
    }

    private static void SetEmpty(DicomDataset ds, DicomTag tag) => ds.AddOrUpdate(tag, Array.Empty<string>());

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
