namespace MedfusionDicom.Dicom.Tests.Fixtures;

/// <summary>
/// Multi-frame source images, made up in code because neither the pydicom corpus nor Debian ships one of these kinds.
/// Shared with other test projects through &lt;Compile Include&gt;, so it uses only MedfusionDicom.Dicom. Every frame's
/// pixels differ (<see cref="FramePixels"/>), so a test can tell frames apart and see their order.
/// </summary>
public static class MultiFrameFixtures
{
    /// <summary>
    /// A 16-frame, 8-bit, 64 x 64 cardiac MR in the legacy MR Image Storage class, as old scanners wrote it (like GDCM's
    /// MR-MONO2-8-16x-heart). The MR Image IOD is single-frame and wants 16 bits allocated (PS3.3 C.8.3.1), so
    /// dciodvfy finds two errors in this source itself: Bits Allocated 8, and Number of Frames, which no module of the
    /// IOD holds (it calls the value 16 unrecognized). Nothing else is wrong with it.
    /// </summary>
    public static DicomDataset HeartMr()
    {
        var ds = Common("heart-mr", "MR", "1.2.840.10008.5.1.4.1.1.4", "ORIGINAL", "PRIMARY", "OTHER")
            .AddOrUpdate(DicomTag.ScanningSequence, "GR")
            .AddOrUpdate(DicomTag.SequenceVariant, "SP")
            .AddOrUpdate(DicomTag.ScanOptions, "CG")
            .AddOrUpdate(DicomTag.MRAcquisitionType, "2D")
            .AddOrUpdate(DicomTag.RepetitionTime, 40.0)
            .AddOrUpdate(DicomTag.EchoTime, 4.0)
            .AddOrUpdate(DicomTag.EchoTrainLength, 1)
            .AddOrUpdate(DicomTag.TriggerTime, 0.0)
            .AddOrUpdate(DicomTag.FrameOfReferenceUID, Uid("heart-mr", "frame-of-reference"))
            .AddOrUpdate(DicomTag.PositionReferenceIndicator, Array.Empty<string>())
            .AddOrUpdate(DicomTag.BodyPartExamined, "HEART")
            .AddOrUpdate(DicomTag.PatientPosition, "HFS")
            .AddOrUpdate(DicomTag.PixelSpacing, 5.0, 5.0)
            .AddOrUpdate(DicomTag.SliceThickness, 8.0)
            .AddOrUpdate(DicomTag.ImageOrientationPatient, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
            .AddOrUpdate(DicomTag.ImagePositionPatient, -160.0, -160.0, 20.0);
        return SetPixels(ds, size: 64, frames: 16);
    }

    /// <summary>
    /// A 96-frame, 8-bit, 128 x 128 coronary angiogram (X-Ray Angiographic Image Storage) at 15 frames a second, with
    /// the Cine and Multi-frame modules (Frame Increment Pointer to Frame Time) and the Type 1 and 2 attributes of the
    /// X-Ray Image, X-Ray Acquisition and XA Positioner modules. dciodvfy finds no error in it.
    /// </summary>
    public static DicomDataset AngioXa()
    {
        const int frames = 96;
        var ds = Common("angio-xa", "XA", "1.2.840.10008.5.1.4.1.1.12.1", "ORIGINAL", "PRIMARY", "SINGLE PLANE")
            .AddOrUpdate(DicomTag.BodyPartExamined, "HEART")
            .AddOrUpdate(DicomTag.PixelIntensityRelationship, "LIN")
            .AddOrUpdate(DicomTag.FrameIncrementPointer, DicomTag.FrameTime)
            .AddOrUpdate(DicomTag.FrameTime, 66.7)
            .AddOrUpdate(DicomTag.CineRate, 15)
            .AddOrUpdate(DicomTag.RecommendedDisplayFrameRate, 15)
            .AddOrUpdate(DicomTag.StartTrim, 1)
            .AddOrUpdate(DicomTag.StopTrim, frames)
            .AddOrUpdate(DicomTag.KVP, 80.0)
            .AddOrUpdate(DicomTag.RadiationSetting, "GR")
            .AddOrUpdate(DicomTag.XRayTubeCurrent, 500)
            .AddOrUpdate(DicomTag.ExposureTime, 7)
            .AddOrUpdate(DicomTag.Exposure, 4)
            .AddOrUpdate(DicomTag.ImagerPixelSpacing, 0.3, 0.3)
            .AddOrUpdate(DicomTag.DistanceSourceToDetector, 1000.0)
            .AddOrUpdate(DicomTag.DistanceSourceToPatient, 750.0)
            .AddOrUpdate(DicomTag.PositionerMotion, "STATIC")
            .AddOrUpdate(DicomTag.PositionerPrimaryAngle, -30.0)
            .AddOrUpdate(DicomTag.PositionerSecondaryAngle, 20.0)
            .AddOrUpdate(DicomTag.LossyImageCompression, "00");
        return SetPixels(ds, size: 128, frames);
    }

    /// <summary>
    /// A 3D T1-weighted Enhanced MR Image of <paramref name="frames"/> 32 x 32 slices, 16 bits allocated and 12 stored:
    /// the Enhanced MR Image and MR Pulse Sequence modules, a one-dimensional stack (Multi-frame Dimension on In-Stack
    /// Position Number) and the functional groups an ORIGINAL Enhanced MR needs (PS3.3 A.36.2.3), shared but for each
    /// frame's Frame Content and Plane Position. dciodvfy finds no error in it.
    /// </summary>
    public static DicomDataset EnhancedMr(int frames = 4)
    {
        const int size = 32;
        const string contrast = "T1";
        var type = new[] { "ORIGINAL", "PRIMARY", "VOLUME", "NONE" };
        var dimensions = Uid("enhanced-mr", "dimension-organization");
        var ds = Common("enhanced-mr", "MR", "1.2.840.10008.5.1.4.1.1.4.1", type)
            .AddOrUpdate(DicomTag.PatientPosition, "HFS")
            .AddOrUpdate(DicomTag.BodyPartExamined, "BRAIN")
            .AddOrUpdate(DicomTag.FrameOfReferenceUID, Uid("enhanced-mr", "frame-of-reference"))
            .AddOrUpdate(DicomTag.PositionReferenceIndicator, Array.Empty<string>())
            .AddOrUpdate(DicomTag.ManufacturerModelName, "Fixture MR")
            .AddOrUpdate(DicomTag.DeviceSerialNumber, "0001")
            .AddOrUpdate(DicomTag.SoftwareVersions, "1.0")
            .AddOrUpdate(DicomTag.PixelPresentation, "MONOCHROME")
            .AddOrUpdate(DicomTag.VolumetricProperties, "VOLUME")
            .AddOrUpdate(DicomTag.VolumeBasedCalculationTechnique, "NONE")
            .AddOrUpdate(DicomTag.ComplexImageComponent, "MAGNITUDE")
            .AddOrUpdate(DicomTag.AcquisitionContrast, contrast)
            .AddOrUpdate(DicomTag.ContentQualification, "PRODUCT")
            .AddOrUpdate(DicomTag.ResonantNucleus, "1H")
            .AddOrUpdate(DicomTag.KSpaceFiltering, "NONE")
            .AddOrUpdate(DicomTag.MagneticFieldStrength, 1.5)
            .AddOrUpdate(DicomTag.PresentationLUTShape, "IDENTITY")
            .AddOrUpdate(DicomTag.LossyImageCompression, "00")
            .AddOrUpdate(DicomTag.AcquisitionDateTime, "20240305083100")
            .AddOrUpdate(DicomTag.AcquisitionDuration, 120.0)
            .AddOrUpdate(DicomTag.PulseSequenceName, "FIXTURE3D")
            .AddOrUpdate(DicomTag.MRAcquisitionType, "3D")
            .AddOrUpdate(DicomTag.EchoPulseSequence, "GRADIENT")
            .AddOrUpdate(DicomTag.EchoPlanarPulseSequence, "NO")
            .AddOrUpdate(DicomTag.ApplicableSafetyStandardAgency, "IEC")
            .AddOrUpdate(DicomTag.MultiPlanarExcitation, "NO")
            .AddOrUpdate(DicomTag.PhaseContrast, "NO")
            .AddOrUpdate(DicomTag.TimeOfFlightContrast, "NO")
            .AddOrUpdate(DicomTag.SteadyStatePulseSequence, "NONE")
            .AddOrUpdate(DicomTag.SaturationRecovery, "NO")
            .AddOrUpdate(DicomTag.SpectrallySelectedSuppression, "NONE")
            .AddOrUpdate(DicomTag.OversamplingPhase, "NONE")
            .AddOrUpdate(DicomTag.GeometryOfKSpaceTraversal, "RECTILINEAR")
            .AddOrUpdate(DicomTag.RectilinearPhaseEncodeReordering, "LINEAR")
            .AddOrUpdate(DicomTag.SegmentedKSpaceTraversal, "SINGLE")
            .AddOrUpdate(DicomTag.CoverageOfKSpace, "FULL")
            .AddOrUpdate(DicomTag.NumberOfKSpaceTrajectories, (ushort)1)
            .AddOrUpdate(DicomTag.AcquisitionContextSequence, Array.Empty<DicomDataset>())
            .AddOrUpdate(DicomTag.DimensionOrganizationSequence, new DicomDataset().AddOrUpdate(DicomTag.DimensionOrganizationUID, dimensions))
            .AddOrUpdate(DicomTag.DimensionIndexSequence, new DicomDataset()
                .AddOrUpdate(DicomTag.DimensionIndexPointer, DicomTag.InStackPositionNumber)
                .AddOrUpdate(DicomTag.FunctionalGroupPointer, DicomTag.FrameContentSequence)
                .AddOrUpdate(DicomTag.DimensionOrganizationUID, dimensions));
        foreach (var tag in new[] { DicomTag.PatientOrientation, DicomTag.AcquisitionDate, DicomTag.AcquisitionTime })
            ds.Remove(tag);

        var shared = new DicomDataset()
            .AddOrUpdate(DicomTag.PixelMeasuresSequence, new DicomDataset().AddOrUpdate(DicomTag.PixelSpacing, 2.0, 2.0).AddOrUpdate(DicomTag.SliceThickness, 2.0))
            .AddOrUpdate(DicomTag.PlaneOrientationSequence, new DicomDataset().AddOrUpdate(DicomTag.ImageOrientationPatient, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0))
            .AddOrUpdate(DicomTag.MRImageFrameTypeSequence, new DicomDataset()
                .AddOrUpdate(DicomTag.FrameType, type)
                .AddOrUpdate(DicomTag.PixelPresentation, "MONOCHROME")
                .AddOrUpdate(DicomTag.VolumetricProperties, "VOLUME")
                .AddOrUpdate(DicomTag.VolumeBasedCalculationTechnique, "NONE")
                .AddOrUpdate(DicomTag.ComplexImageComponent, "MAGNITUDE")
                .AddOrUpdate(DicomTag.AcquisitionContrast, contrast))
            .AddOrUpdate(DicomTag.FrameAnatomySequence, new DicomDataset()
                .AddOrUpdate(DicomTag.AnatomicRegionSequence, new DicomDataset()
                    .AddOrUpdate(DicomTag.CodeValue, "12738006").AddOrUpdate(DicomTag.CodingSchemeDesignator, "SCT").AddOrUpdate(DicomTag.CodeMeaning, "Brain"))
                .AddOrUpdate(DicomTag.FrameLaterality, "U"))
            .AddOrUpdate(DicomTag.PixelValueTransformationSequence, new DicomDataset()
                .AddOrUpdate(DicomTag.RescaleIntercept, 0.0).AddOrUpdate(DicomTag.RescaleSlope, 1.0).AddOrUpdate(DicomTag.RescaleType, "US"))
            .AddOrUpdate(DicomTag.MRTimingAndRelatedParametersSequence, new DicomDataset()
                .AddOrUpdate(DicomTag.RepetitionTime, 8.0)
                .AddOrUpdate(DicomTag.FlipAngle, 10.0)
                .AddOrUpdate(DicomTag.EchoTrainLength, 1)
                .AddOrUpdate(DicomTag.RFEchoTrainLength, (ushort)0)
                .AddOrUpdate(DicomTag.GradientEchoTrainLength, (ushort)1)
                .AddOrUpdate(DicomTag.SpecificAbsorptionRateSequence, new DicomDataset()
                    .AddOrUpdate(DicomTag.SpecificAbsorptionRateDefinition, "IEC_WHOLE_BODY")
                    .AddOrUpdate(DicomTag.SpecificAbsorptionRateValue, 0.5))
                .AddOrUpdate(DicomTag.OperatingModeSequence, new DicomDataset()
                    .AddOrUpdate(DicomTag.OperatingModeType, "STATIC FIELD")
                    .AddOrUpdate(DicomTag.OperatingMode, "IEC_NORMAL")))
            .AddOrUpdate(DicomTag.MRFOVGeometrySequence, new DicomDataset()
                .AddOrUpdate(DicomTag.InPlanePhaseEncodingDirection, "ROW")
                .AddOrUpdate(DicomTag.MRAcquisitionFrequencyEncodingSteps, (ushort)size)
                .AddOrUpdate(DicomTag.MRAcquisitionPhaseEncodingStepsInPlane, (ushort)size)
                .AddOrUpdate(DicomTag.MRAcquisitionPhaseEncodingStepsOutOfPlane, (ushort)frames)
                .AddOrUpdate(DicomTag.PercentSampling, 100.0)
                .AddOrUpdate(DicomTag.PercentPhaseFieldOfView, 100.0))
            .AddOrUpdate(DicomTag.MREchoSequence, new DicomDataset().AddOrUpdate(DicomTag.EffectiveEchoTime, 3.0))
            .AddOrUpdate(DicomTag.MRModifierSequence, Item(
                (DicomTag.InversionRecovery, "NO"), (DicomTag.FlowCompensation, "NONE"), (DicomTag.Spoiling, "RF"),
                (DicomTag.T2Preparation, "NO"), (DicomTag.SpectrallySelectedExcitation, "NONE"),
                (DicomTag.SpatialPresaturation, "NONE"), (DicomTag.PartialFourier, "NO"), (DicomTag.ParallelAcquisition, "NO")))
            .AddOrUpdate(DicomTag.MRImagingModifierSequence, Item(
                (DicomTag.MagnetizationTransfer, "NONE"), (DicomTag.BloodSignalNulling, "NO"), (DicomTag.Tagging, "NONE"),
                (DicomTag.TransmitterFrequency, "63.9"), (DicomTag.PixelBandwidth, "200")))
            .AddOrUpdate(DicomTag.MRReceiveCoilSequence, Item(
                (DicomTag.ReceiveCoilName, "HEAD"), (DicomTag.ReceiveCoilManufacturerName, "Fixture"),
                (DicomTag.ReceiveCoilType, "VOLUME"), (DicomTag.QuadratureReceiveCoil, "YES")))
            .AddOrUpdate(DicomTag.MRTransmitCoilSequence, Item(
                (DicomTag.TransmitCoilName, "BODY"), (DicomTag.TransmitCoilManufacturerName, "Fixture"), (DicomTag.TransmitCoilType, "BODY")))
            .AddOrUpdate(DicomTag.MRDiffusionSequence, new DicomDataset()
                .AddOrUpdate(DicomTag.DiffusionBValue, 0.0)
                .AddOrUpdate(DicomTag.DiffusionDirectionality, "NONE"))
            .AddOrUpdate(DicomTag.MRAveragesSequence, new DicomDataset().AddOrUpdate(DicomTag.NumberOfAverages, 1.0))
            .AddOrUpdate(DicomTag.MRSpatialSaturationSequence, Array.Empty<DicomDataset>());
        var perFrame = Enumerable.Range(0, frames).Select(i => new DicomDataset()
            .AddOrUpdate(DicomTag.FrameContentSequence, new DicomDataset()
                .AddOrUpdate(DicomTag.FrameAcquisitionDateTime, "20240305083100")
                .AddOrUpdate(DicomTag.FrameReferenceDateTime, "20240305083100")
                .AddOrUpdate(DicomTag.FrameAcquisitionDuration, 120.0)
                .AddOrUpdate(DicomTag.StackID, "1")
                .AddOrUpdate(DicomTag.InStackPositionNumber, (uint)(i + 1))
                .AddOrUpdate(DicomTag.DimensionIndexValues, (uint)(i + 1)))
            .AddOrUpdate(DicomTag.PlanePositionSequence, new DicomDataset()
                .AddOrUpdate(DicomTag.ImagePositionPatient, -32.0, -32.0, 2.0 * i))).ToArray();
        ds.AddOrUpdate(DicomTag.SharedFunctionalGroupsSequence, shared);
        ds.AddOrUpdate(DicomTag.PerFrameFunctionalGroupsSequence, perFrame);
        return SetPixels(ds, size, frames, 16, 12);
    }

    /// <summary>
    /// <paramref name="frames"/> frames of <paramref name="rows"/> x <paramref name="columns"/> samples of
    /// <paramref name="bytesPerSample"/> bytes, little endian, below 2^<paramref name="bitsStored"/>: a ramp shifted
    /// by the frame index, and the frame's index in its first sample, so that no two frames are alike.
    /// </summary>
    public static byte[] FramePixels(int frames, int rows, int columns, int bytesPerSample, int bitsStored)
    {
        var data = new byte[frames * rows * columns * bytesPerSample];
        var mask = (1 << bitsStored) - 1;
        for (var f = 0; f < frames; f++)
            for (var i = 0; i < rows * columns; i++)
            {
                var value = (i == 0 ? f : i * 7 + f * 13) & mask;
                var at = ((f * rows * columns) + i) * bytesPerSample;
                data[at] = (byte)value;
                if (bytesPerSample == 2) data[at + 1] = (byte)(value >> 8);
            }
        return data;
    }

    /// <summary>One frame of <paramref name="data"/> (frames back to back, as in Pixel Data).</summary>
    public static ReadOnlyMemory<byte> Frame(ReadOnlyMemory<byte> data, int frames, int index) =>
        data.Slice(index * (data.Length / frames), data.Length / frames);

    /// <summary>Patient, study, series, equipment and general image attributes every fixture has, and its identity.</summary>
    private static DicomDataset Common(string name, string modality, string sopClass, params string[] imageType) => new DicomDataset()
        .AddOrUpdate(DicomTag.SOPClassUID, sopClass)
        .AddOrUpdate(DicomTag.ImageType, imageType)
        .AddOrUpdate(DicomTag.SOPInstanceUID, Uid(name, "instance"))
        .AddOrUpdate(DicomTag.PatientName, "TEST^" + modality)
        .AddOrUpdate(DicomTag.PatientID, modality + "-MF-1")
        .AddOrUpdate(DicomTag.PatientBirthDate, "19600101")
        .AddOrUpdate(DicomTag.PatientSex, "M")
        .AddOrUpdate(DicomTag.StudyInstanceUID, Uid(name, "study"))
        .AddOrUpdate(DicomTag.StudyDate, "20240305")
        .AddOrUpdate(DicomTag.StudyTime, "083000")
        .AddOrUpdate(DicomTag.ReferringPhysicianName, Array.Empty<string>())
        .AddOrUpdate(DicomTag.StudyID, "1")
        .AddOrUpdate(DicomTag.AccessionNumber, "MF1")
        .AddOrUpdate(DicomTag.Modality, modality)
        .AddOrUpdate(DicomTag.SeriesInstanceUID, Uid(name, "series"))
        .AddOrUpdate(DicomTag.SeriesNumber, 1)
        .AddOrUpdate(DicomTag.Manufacturer, "Fixture")
        .AddOrUpdate(DicomTag.InstanceNumber, 1)
        .AddOrUpdate(DicomTag.PatientOrientation, Array.Empty<string>())
        .AddOrUpdate(DicomTag.ContentDate, "20240305")
        .AddOrUpdate(DicomTag.ContentTime, "083100")
        .AddOrUpdate(DicomTag.AcquisitionDate, "20240305")
        .AddOrUpdate(DicomTag.AcquisitionTime, "083100")
        .AddOrUpdate(DicomTag.BurnedInAnnotation, "NO");

    /// <summary>The Image Pixel module of unsigned MONOCHROME2 frames (<see cref="FramePixels"/>), and the frame count.</summary>
    private static DicomDataset SetPixels(DicomDataset ds, int size, int frames, int bitsAllocated = 8, int bitsStored = 8)
    {
        var data = FramePixels(frames, size, size, bitsAllocated / 8, bitsStored);
        return SetImagePixel(ds, size, bitsAllocated, bitsStored, data).AddOrUpdate(DicomTag.NumberOfFrames, frames);
    }

    /// <summary>
    /// The Image Pixel module of unsigned MONOCHROME2 square images of <paramref name="size"/>, with
    /// <paramref name="data"/> as their Pixel Data (OB for 8 bits allocated, else OW).
    /// </summary>
    public static DicomDataset SetImagePixel(DicomDataset ds, int size, int bitsAllocated, int bitsStored, byte[] data) => ds
        .AddOrUpdate(DicomTag.SamplesPerPixel, (ushort)1)
        .AddOrUpdate(DicomTag.PhotometricInterpretation, "MONOCHROME2")
        .AddOrUpdate(DicomTag.Rows, (ushort)size)
        .AddOrUpdate(DicomTag.Columns, (ushort)size)
        .AddOrUpdate(DicomTag.BitsAllocated, (ushort)bitsAllocated)
        .AddOrUpdate(DicomTag.BitsStored, (ushort)bitsStored)
        .AddOrUpdate(DicomTag.HighBit, (ushort)(bitsStored - 1))
        .AddOrUpdate(DicomTag.PixelRepresentation, (ushort)0)
        .AddOrUpdate(new DicomElement(DicomTag.PixelData, bitsAllocated == 8 ? DicomVR.OB : DicomVR.OW, data));

    /// <summary>A sequence item of attributes given as text (code strings, decimal strings).</summary>
    private static DicomDataset Item(params (DicomTag Tag, string Value)[] values)
    {
        var item = new DicomDataset();
        foreach (var (tag, value) in values) item.AddOrUpdate(tag, value);
        return item;
    }

    private static string Uid(string name, string role) => DicomUID.FromName("fixture", "multi-frame", name, role).UID;
}
