namespace MedfusionDicom.Dicom.Derived;

/// <summary>Synthetic images: generated pixels filed under a made-up patient, as Secondary Capture or Digital X-Ray.</summary>
public sealed partial class DerivedImageBuilder
{
    /// <summary>
    /// A synthetic image of <paramref name="subject"/>, in the IOD it asks for. Every image a builder makes for one
    /// study lands in the builder's one series of that study. <paramref name="instanceKey"/> tells apart images that could
    /// take the same instance number (a sample and the one generated in its place): it goes into the name-based UID.
    /// </summary>
    public DerivedImage BuildSynthetic(SyntheticSubject subject, DerivedPixelData pixels, int instanceNumber, string? instanceKey = null)
    {
        CheckPixels(pixels);
        CheckLength(subject.PatientId, 64, "PatientId");
        CheckLength(subject.StudyId, 16, "StudyId");
        CheckLength(subject.AccessionNumber, 16, "AccessionNumber");
        CheckLength(subject.StudyDescription, 64, "StudyDescription");
        CheckLength(subject.DeidentificationMethod, 64, "DeidentificationMethod");
        var ds = new DicomDataset();
        DeclareCharacterSet(ds, subject.PatientName, subject.StudyDescription, subject.DeidentificationMethod);
        var series = _seriesByStudy.GetOrAdd(subject.StudyInstanceUid, s => NewUid("series", s));
        var digitalXRay = subject.Iod == SyntheticIod.DigitalXRay;
        if (digitalXRay) CheckDigitalXRay(subject, pixels);
        var sopClass = digitalXRay ? DXPresentation : SecondaryCaptureClass(pixels);
        var instance = instanceKey is null ? NewUid("instance", series.UID, Invariant(instanceNumber)) : NewUid("instance", series.UID, Invariant(instanceNumber), instanceKey);
        SetIdentity(ds, sopClass, series, instance, instanceNumber);
        ds.AddOrUpdate(DicomTag.ImageType, "DERIVED", "SECONDARY");

        // Patient module: nobody's.
        ds.AddOrUpdate(DicomTag.PatientName, subject.PatientName);
        ds.AddOrUpdate(DicomTag.PatientID, subject.PatientId);
        SetEmpty(ds, DicomTag.PatientBirthDate);
        SetEmpty(ds, DicomTag.PatientSex);
        ds.AddOrUpdate(DicomTag.PatientIdentityRemoved, "YES");
        ds.AddOrUpdate(DicomTag.DeidentificationMethod, subject.DeidentificationMethod);

        ds.AddOrUpdate(DicomTag.StudyInstanceUID, subject.StudyInstanceUid);
        ds.AddOrUpdate(DicomTag.StudyDate, subject.StudyDateTime);
        ds.AddOrUpdate(DicomTag.StudyTime, subject.StudyDateTime);
        SetEmpty(ds, DicomTag.ReferringPhysicianName);
        ds.AddOrUpdate(DicomTag.StudyID, subject.StudyId);
        ds.AddOrUpdate(DicomTag.AccessionNumber, subject.AccessionNumber);
        ds.AddOrUpdate(DicomTag.StudyDescription, subject.StudyDescription);

        // General Series: OT for SC (no acquisition modality made it); DX for a radiograph.
        ds.AddOrUpdate(DicomTag.Modality, digitalXRay ? "DX" : "OT");
        if (subject.BodyPartExamined.Length > 0) ds.AddOrUpdate(DicomTag.BodyPartExamined, subject.BodyPartExamined);
        // Laterality (General Series, Type 2C) is for paired parts when no Image Laterality says the side; DX has one.
        if (digitalXRay) ds.AddOrUpdate(DicomTag.ImageLaterality, "U");
        else if (!UnpairedBodyParts.Contains(subject.BodyPartExamined)) SetEmpty(ds, DicomTag.Laterality);
        ds.AddOrUpdate(DicomTag.Manufacturer, _processing.Manufacturer);
        ds.AddOrUpdate(DicomTag.BurnedInAnnotation, "NO");
        ds.AddOrUpdate(DicomTag.LossyImageCompression, "00");
        AddProcessing(ds, synthetic: true, synthesizing: true);
        SetPixels(ds, pixels, source: null);
        if (digitalXRay)
        {
            SetSyntheticDigitalXRay(ds, subject);
            EnsureXRayPresentation(ds, pixels, sopClass);
        }
        else
        {
            ds.AddOrUpdate(DicomTag.PatientOrientation, subject.PatientOrientation.ToArray());
            AddSecondaryCaptureEquipment(ds, "SYN");
            SetSecondaryCaptureImage(ds, sopClass, pixels.NumberOfFrames);
        }
        return new DerivedImage(ds, null);
    }

    /// <summary>What <see cref="Build"/> files a synthetic image under when the caller names no subject: a study of the builder's own.</summary>
    private SyntheticSubject DefaultSubject()
    {
        // The identifiers are derived from the study so that a retried job agrees.
        var tail = _syntheticStudy.UID[^16..];
        return new SyntheticSubject
        {
            PatientId = "SYN" + tail,
            PatientName = "SYNTHETIC^" + tail,
            StudyInstanceUid = _syntheticStudy.UID,
            StudyDateTime = _time,
        };
    }

    private static void CheckDigitalXRay(SyntheticSubject subject, DerivedPixelData p)
    {
        if (subject.AnatomicRegion is null)
            throw new DicomValueException("a Digital X-Ray image needs an anatomic region (DX Anatomy Imaged module, Anatomic Region Sequence, Type 1)");
        if (subject.PatientOrientation.Count != 2)
            throw new DicomValueException("a Digital X-Ray image needs Patient Orientation (DX Image module, Type 1C): the directions of its rows and columns, e.g. L and F");
        if (!(subject.ImagerPixelSpacingMm > 0))
            throw new DicomValueException($"Imager Pixel Spacing must be positive, not {subject.ImagerPixelSpacingMm} mm");
        var why = WhyNotKept(DXPresentation, p);
        if (why is not null) throw new DicomValueException(why);
    }

    /// <summary>
    /// What the DX IOD (PS3.3 A.26) needs beyond the General and Image Pixel modules: DX Series (Presentation Intent
    /// Type), DX Anatomy Imaged, DX Image (pixel intensity relationship, Presentation LUT Shape), DX Detector (Imager
    /// Pixel Spacing) and Acquisition Context (Type 2, empty: nothing was acquired).
    /// </summary>
    private static void SetSyntheticDigitalXRay(DicomDataset ds, SyntheticSubject subject)
    {
        ds.AddOrUpdate(DicomTag.PresentationIntentType, "FOR PRESENTATION");
        ds.AddOrUpdate(DicomTag.AnatomicRegionSequence, subject.AnatomicRegion!.ToItem());
        if (subject.ViewPosition.Length > 0)
        {
            // DX Positioning module: with a View Position, Positioner Type is Type 2 (empty: not known).
            ds.AddOrUpdate(DicomTag.ViewPosition, subject.ViewPosition);
            SetEmpty(ds, DicomTag.PositionerType);
        }
        // MONOCHROME2 for presentation: dense (less beam) is bright, so higher values mean less X-ray intensity.
        ds.AddOrUpdate(DicomTag.PixelIntensityRelationship, "LOG");
        ds.AddOrUpdate(DicomTag.PixelIntensityRelationshipSign, (short)-1);
        ds.AddOrUpdate(DicomTag.PresentationLUTShape, "IDENTITY");
        ds.AddOrUpdate(DicomTag.PatientOrientation, subject.PatientOrientation.ToArray());
        SetEmpty(ds, DicomTag.DetectorType);
        ds.AddOrUpdate(DicomTag.ImagerPixelSpacing, subject.ImagerPixelSpacingMm, subject.ImagerPixelSpacingMm);
        ds.AddOrUpdate(DicomTag.AcquisitionContextSequence, Array.Empty<DicomDataset>());
    }
}
