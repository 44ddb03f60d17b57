using MedfusionDicom.Dicom.Derived;

namespace MedfusionDicom.Dicom.Tests.Fixtures;

/// <summary>Chest X-rays made up in code. Shared with other test projects through &lt;Compile Include&gt;, so it uses only MedfusionDicom.Dicom.</summary>
public static class XRayFixtures
{
    /// <summary>
    /// A minimal chest X-ray, DX For Presentation or CR, made up because neither the pydicom corpus nor Debian ships
    /// one; DerivedDciodvfyTests checks that dciodvfy finds no error in it.
    /// </summary>
    /// <param name="pixels16">Rows x columns 16-bit little-endian values of 12 bits stored.</param>
    /// <param name="study">Names the study (instances with the same name share it) and, with <paramref name="instanceNumber"/>, the instance.</param>
    public static DicomDataset XRay(bool dx, int size, byte[] pixels16, string study = "study", int instanceNumber = 1)
    {
        var ds = new DicomDataset()
            .AddOrUpdate(DicomTag.SOPClassUID, dx ? "1.2.840.10008.5.1.4.1.1.1.1" : "1.2.840.10008.5.1.4.1.1.1")
            .AddOrUpdate(DicomTag.SOPInstanceUID, DicomUID.FromName("fixture", "xray", dx ? "dx" : "cr", study, instanceNumber.ToString(System.Globalization.CultureInfo.InvariantCulture), "instance").UID)
            .AddOrUpdate(DicomTag.PatientName, "TEST^XRAY")
            .AddOrUpdate(DicomTag.PatientID, "XR-1")
            .AddOrUpdate(DicomTag.PatientBirthDate, "19700101")
            .AddOrUpdate(DicomTag.PatientSex, "O")
            .AddOrUpdate(DicomTag.StudyInstanceUID, DicomUID.FromName("fixture", "xray", study).UID)
            .AddOrUpdate(DicomTag.StudyDate, "20240102")
            .AddOrUpdate(DicomTag.StudyTime, "101500")
            .AddOrUpdate(DicomTag.ReferringPhysicianName, Array.Empty<string>())
            .AddOrUpdate(DicomTag.StudyID, "1")
            .AddOrUpdate(DicomTag.AccessionNumber, "A1")
            .AddOrUpdate(DicomTag.Modality, dx ? "DX" : "CR")
            .AddOrUpdate(DicomTag.SeriesInstanceUID, DicomUID.FromName("fixture", "xray", dx ? "dx" : "cr", study, "series").UID)
            .AddOrUpdate(DicomTag.SeriesNumber, 1)
            .AddOrUpdate(DicomTag.BodyPartExamined, "CHEST")
            .AddOrUpdate(DicomTag.ViewPosition, "PA")
            .AddOrUpdate(DicomTag.Manufacturer, "Fixture")
            .AddOrUpdate(DicomTag.InstanceNumber, instanceNumber)
            .AddOrUpdate(DicomTag.PatientOrientation, "L", "F")
            .AddOrUpdate(DicomTag.ContentDate, "20240102")
            .AddOrUpdate(DicomTag.ContentTime, "101600")
            .AddOrUpdate(DicomTag.ImageType, "ORIGINAL", "PRIMARY")
            .AddOrUpdate(DicomTag.ImagerPixelSpacing, 0.2, 0.2)
            .AddOrUpdate(DicomTag.LossyImageCompression, "00")
            .AddOrUpdate(DicomTag.BurnedInAnnotation, "NO");
        MultiFrameFixtures.SetImagePixel(ds, size, 16, 12, pixels16);
        if (!dx) return ds;
        return ds
            .AddOrUpdate(DicomTag.PresentationIntentType, "FOR PRESENTATION")
            .AddOrUpdate(DicomTag.ImageLaterality, "U")
            .AddOrUpdate(DicomTag.AcquisitionContextSequence, Array.Empty<DicomDataset>())
            .AddOrUpdate(DicomTag.AnatomicRegionSequence, new DicomCodedEntry("51185008", "SCT", "Chest").ToItem())
            .AddOrUpdate(DicomTag.PixelIntensityRelationship, "LIN")
            .AddOrUpdate(DicomTag.PixelIntensityRelationshipSign, (short)1)
            .AddOrUpdate(DicomTag.RescaleIntercept, 0.0)
            .AddOrUpdate(DicomTag.RescaleSlope, 1.0)
            .AddOrUpdate(DicomTag.RescaleType, "US")
            .AddOrUpdate(DicomTag.PresentationLUTShape, "IDENTITY")
            .AddOrUpdate(DicomTag.WindowCenter, 2048.0)
            .AddOrUpdate(DicomTag.WindowWidth, 4096.0)
            .AddOrUpdate(DicomTag.DetectorType, "DIRECT")
            .AddOrUpdate(DicomTag.PositionerType, "COLUMN")
            .AddOrUpdate(DicomTag.ViewCodeSequence, new DicomCodedEntry("399348003", "SCT", "postero-anterior").ToItem());
    }
}
