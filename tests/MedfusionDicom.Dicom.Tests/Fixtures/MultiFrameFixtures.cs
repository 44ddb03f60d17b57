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
    /// dciodvfy finds errors in this source itself: Bits Allocated 8 and Number of Frames, which no module of the IOD
    /// holds. Nothing else is wrong with it.
    /// </summary>
    public static DicomDataset HeartMr()
    {
        const int size = 64, frames = 16;
        var ds = Common("heart-mr", "MR", "1.2.840.10008.5.1.4.1.1.4")
            .AddOrUpdate(DicomTag.ImageType, "ORIGINAL", "PRIMARY", "OTHER")
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
            .AddOrUpdate(DicomTag.PixelSpacing, 5.0, 5.0)
            .AddOrUpdate(DicomTag.SliceThickness, 8.0)
            .AddOrUpdate(DicomTag.ImageOrientationPatient, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
            .AddOrUpdate(DicomTag.ImagePositionPatient, -160.0, -160.0, 20.0);
        return SetPixels(ds, size, frames);
    }

    /// <summary>
    /// A 96-frame, 8-bit, 128 x 128 coronary angiogram (X-Ray Angiographic Image Storage) at 15 frames a second, with
    /// the Cine and Multi-frame modules (Frame Increment Pointer to Frame Time) and the Type 1 and 2 attributes of the
    /// X-Ray Image, X-Ray Acquisition and XA Positioner modules. dciodvfy finds no error in it.
    /// </summary>
    public static DicomDataset AngioXa()
    {
        const int size = 128, frames = 96;
        var ds = Common("angio-xa", "XA", "1.2.840.10008.5.1.4.1.1.12.1")
            .AddOrUpdate(DicomTag.ImageType, "ORIGINAL", "PRIMARY", "SINGLE PLANE")
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
        return SetPixels(ds, size, frames);
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
    private static DicomDataset Common(string name, string modality, string sopClass) => new DicomDataset()
        .AddOrUpdate(DicomTag.SOPClassUID, sopClass)
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

    /// <summary>The Image Pixel module of 8-bit MONOCHROME2 frames, and the Multi-frame module's frame count.</summary>
    private static DicomDataset SetPixels(DicomDataset ds, int size, int frames)
    {
        ds.AddOrUpdate(DicomTag.SamplesPerPixel, (ushort)1)
            .AddOrUpdate(DicomTag.PhotometricInterpretation, "MONOCHROME2")
            .AddOrUpdate(DicomTag.Rows, (ushort)size)
            .AddOrUpdate(DicomTag.Columns, (ushort)size)
            .AddOrUpdate(DicomTag.BitsAllocated, (ushort)8)
            .AddOrUpdate(DicomTag.BitsStored, (ushort)8)
            .AddOrUpdate(DicomTag.HighBit, (ushort)7)
            .AddOrUpdate(DicomTag.PixelRepresentation, (ushort)0)
            .AddOrUpdate(DicomTag.NumberOfFrames, frames);
        return ds.AddOrUpdate(new DicomElement(DicomTag.PixelData, DicomVR.OB, FramePixels(frames, size, size, 1, 8)));
    }

    private static string Uid(string name, string role) => DicomUID.FromName("fixture", "multi-frame", name, role).UID;
}
