using System.Buffers.Binary;
using MedfusionDicom.Dicom.IO;

namespace MedfusionDicom.Dicom.FileSets;

/// <summary>
/// Writes the DICOMDIR of a PS3.10 File-set: the Basic Directory IOD (PS3.3 F.3) with a PATIENT, STUDY, SERIES and
/// IMAGE record for each patient, study, series and instance under the File-set's root folder. Every file's path
/// under the root must be a PS3.10 File ID (at most 8 components, each 1 to 8 of A-Z, 0-9 and _); see
/// <see cref="IsFileIdComponent"/>. Record offsets are byte offsets from the start of the DICOMDIR file, as
/// PS3.3 F.3.2.1 defines them; they are computed from the encoded records and checked in the written bytes.
/// </summary>
public static class DicomDirectoryWriter
{
    private const string MediaStorageDirectoryStorage = "1.2.840.10008.1.3.10";
    private const int MaxFileIdComponents = 8;

    /// <summary>Whether <paramref name="component"/> may be one component of a File ID (PS3.10 §8.2, PS3.12 Annex F).</summary>
    public static bool IsFileIdComponent(string component) =>
        component.Length is >= 1 and <= 8 && component.All(c => c is >= 'A' and <= 'Z' or >= '0' and <= '9' or '_');

    /// <summary>Writes ROOT/DICOMDIR for every DICOM file under <paramref name="root"/>; returns the number of files it references.</summary>
    /// <exception cref="DicomException">A file's path is not a File ID, a file is not DICOM, or an attribute a record needs is missing.</exception>
    public static Task<int> WriteAsync(string root, string fileSetId = "", CancellationToken ct = default) =>
        WriteAsync(root, Directory.GetFiles(root, "*", SearchOption.AllDirectories), fileSetId, ct);

    /// <summary>
    /// Writes ROOT/DICOMDIR for <paramref name="files"/>, which lie under <paramref name="root"/> beside files that are not
    /// part of the File-set (a cohort's report and manifest); returns the number of files it references.
    /// </summary>
    /// <exception cref="DicomException">A file's path is not a File ID, a file is not DICOM, or an attribute a record needs is missing.</exception>
    public static async Task<int> WriteAsync(string root, IEnumerable<string> files, string fileSetId, CancellationToken ct = default)
    {
        if (fileSetId.Length > 16 || fileSetId.Any(c => !(c is >= 'A' and <= 'Z' or >= '0' and <= '9' or '_' or ' ')))
            throw new DicomException($"File-set ID '{fileSetId}' must be at most 16 of A-Z, 0-9, _ and space");
        var entries = new List<(string[] FileId, DicomDataset Header, DicomTransferSyntax Syntax)>();
        foreach (var path in files.Select(f => Path.GetFullPath(f, root)).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(root, path);
            if (relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative))
                throw new DicomException($"'{path}' is not under the File-set's root {root}");
            if (relative == "DICOMDIR") continue;
            var components = relative.Split(Path.DirectorySeparatorChar);
            if (components.Length > MaxFileIdComponents || !components.All(IsFileIdComponent))
                throw new DicomException($"'{relative}' is not a PS3.10 File ID: at most {MaxFileIdComponents} components of 1 to 8 characters A-Z, 0-9 or _");
            var file = await DicomFile.OpenAsync(path, new DicomReaderOptions { StopBeforeTag = DicomTag.PixelData }, ct).ConfigureAwait(false);
            entries.Add((components, file.Dataset, file.Dataset.InternalTransferSyntax));
        }

        var records = new List<Record>();
        foreach (var patient in entries.GroupBy(e => Required(e.Header, DicomTag.PatientID, e.FileId)).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var first = patient.First().Header;
            var patientRecord = Record.Of("PATIENT", first, DicomTag.SpecificCharacterSet, DicomTag.PatientName, DicomTag.PatientID);
            records.Add(patientRecord);
            foreach (var study in patient.GroupBy(e => Required(e.Header, DicomTag.StudyInstanceUID, e.FileId)).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var s = study.First().Header;
                var studyRecord = Record.Of("STUDY", s, DicomTag.SpecificCharacterSet, DicomTag.StudyDate, DicomTag.StudyTime, DicomTag.AccessionNumber,
                    DicomTag.StudyDescription, DicomTag.StudyInstanceUID, DicomTag.StudyID);
                patientRecord.Children.Add(studyRecord);
                records.Add(studyRecord);
                foreach (var series in study.GroupBy(e => Required(e.Header, DicomTag.SeriesInstanceUID, e.FileId)).OrderBy(g => g.Key, StringComparer.Ordinal))
                {
                    var r = series.First().Header;
                    var seriesRecord = Record.Of("SERIES", r, DicomTag.SpecificCharacterSet, DicomTag.Modality, DicomTag.SeriesInstanceUID, DicomTag.SeriesNumber);
                    studyRecord.Children.Add(seriesRecord);
                    records.Add(seriesRecord);
                    foreach (var (fileId, header, syntax) in series.OrderBy(e => e.Header.GetStringOrDefault(DicomTag.InstanceNumber).Trim().PadLeft(12, '0'), StringComparer.Ordinal))
                    {
                        var image = Record.Of("IMAGE", header, DicomTag.SpecificCharacterSet, DicomTag.InstanceNumber);
                        image.Dataset.AddOrUpdate(DicomTag.ReferencedFileID, fileId);
                        image.Dataset.AddOrUpdate(DicomTag.ReferencedSOPClassUIDInFile, Required(header, DicomTag.SOPClassUID, fileId));
                        image.Dataset.AddOrUpdate(DicomTag.ReferencedSOPInstanceUIDInFile, Required(header, DicomTag.SOPInstanceUID, fileId));
                        image.Dataset.AddOrUpdate(DicomTag.ReferencedTransferSyntaxUIDInFile, syntax.UID.UID);
                        seriesRecord.Children.Add(image);
                        records.Add(image);
                    }
                }
            }
        }

        var roots = records.Where(r => r.Type == "PATIENT").ToList();
        var directory = new DicomDataset()
            .AddOrUpdate(DicomVR.CS, DicomTag.FileSetID, fileSetId.Length > 0 ? [fileSetId] : Array.Empty<string>())
            .AddOrUpdate(DicomTag.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity, 0u)
            .AddOrUpdate(DicomTag.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity, 0u)
            .AddOrUpdate(DicomTag.FileSetConsistencyFlag, (ushort)0);
        var meta = new DicomDataset()
            .AddOrUpdate(DicomTag.MediaStorageSOPClassUID, MediaStorageDirectoryStorage)
            // Name-based on what it indexes: the same File-set gets the same DICOMDIR, byte for byte.
            .AddOrUpdate(DicomTag.MediaStorageSOPInstanceUID, DicomUID.FromName(["DICOMDIR", fileSetId,
                .. entries.Select(e => string.Join('\\', e.FileId) + "=" + e.Header.GetStringOrDefault(DicomTag.SOPInstanceUID))]).UID);
        var syntaxOut = DicomTransferSyntax.ExplicitVRLittleEndian;

        // Where each record starts: the file's bytes up to the sequence, its 12-byte header, then each item's
        // 8-byte header, its elements and its 8-byte delimiter. Offsets are UL, so filling them changes no length.
        var withoutRecords = new DicomFile(directory, meta);
        using var probe = new MemoryStream();
        await withoutRecords.SaveAsync(probe, syntaxOut, ct).ConfigureAwait(false);
        var position = probe.Length + 12;
        foreach (var record in records)
        {
            record.Offset = position;
            position += 16 + DicomWriter.Encode(record.Dataset, syntaxOut).Length;
        }

        Link(roots);
        directory.AddOrUpdate(DicomTag.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity, (uint)(roots.FirstOrDefault()?.Offset ?? 0));
        directory.AddOrUpdate(DicomTag.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity, (uint)(roots.LastOrDefault()?.Offset ?? 0));
        directory.AddOrUpdate(DicomTag.DirectoryRecordSequence, records.Select(r => r.Dataset).ToArray());

        using var bytes = new MemoryStream();
        await new DicomFile(directory, meta).SaveAsync(bytes, syntaxOut, ct).ConfigureAwait(false);
        var written = bytes.ToArray();
        foreach (var record in records)
            if (record.Offset + 4 > written.Length || BinaryPrimitives.ReadUInt32LittleEndian(written.AsSpan((int)record.Offset)) != 0xE000FFFE)
                throw new DicomException($"the {record.Type} record is not at offset {record.Offset} of the DICOMDIR written (a bug in its layout)");

        var target = Path.Combine(root, "DICOMDIR");
        var temporary = target + ".tmp";
        await File.WriteAllBytesAsync(temporary, written, ct).ConfigureAwait(false);
        File.Move(temporary, target, overwrite: true);
        return entries.Count;
    }

    /// <summary>Sets each record's next-sibling and first-child offsets, level by level.</summary>
    private static void Link(List<Record> siblings)
    {
        for (var i = 0; i < siblings.Count; i++)
        {
            var record = siblings[i];
            record.Dataset.AddOrUpdate(DicomTag.OffsetOfTheNextDirectoryRecord, (uint)(i + 1 < siblings.Count ? siblings[i + 1].Offset : 0));
            record.Dataset.AddOrUpdate(DicomTag.OffsetOfReferencedLowerLevelDirectoryEntity, (uint)(record.Children.Count > 0 ? record.Children[0].Offset : 0));
            Link(record.Children);
        }
    }

    private static string Required(DicomDataset header, DicomTag tag, string[] fileId) =>
        header.TryGetString(tag, out var value) && value.Trim().Length > 0
            ? value.Trim()
            : throw new DicomException($"{string.Join('/', fileId)} has no {tag} {tag.DictionaryEntry.Keyword}, which its directory record needs");

    private sealed class Record
    {
        private Record(string type, DicomDataset dataset)
        {
            Type = type;
            Dataset = dataset;
        }

        public string Type { get; }
        public DicomDataset Dataset { get; }
        public List<Record> Children { get; } = [];
        public long Offset { get; set; }

        /// <summary>A record of <paramref name="type"/> with the header's values of <paramref name="keys"/> (empty where the header has none).</summary>
        public static Record Of(string type, DicomDataset header, params DicomTag[] keys)
        {
            var dataset = new DicomDataset()
                .AddOrUpdate(DicomTag.OffsetOfTheNextDirectoryRecord, 0u)
                .AddOrUpdate(DicomTag.RecordInUseFlag, (ushort)0xFFFF)
                .AddOrUpdate(DicomTag.OffsetOfReferencedLowerLevelDirectoryEntity, 0u)
                .AddOrUpdate(DicomTag.DirectoryRecordType, type);
            foreach (var key in keys)
            {
                if (header[key] is DicomElement element) dataset.AddOrUpdate(element.Clone());
                else if (key != DicomTag.SpecificCharacterSet) dataset.AddOrUpdate(new DicomElement(key, DicomDictionary.Default[key].ValueRepresentation, ReadOnlyMemory<byte>.Empty));
            }

            return new Record(type, dataset);
        }
    }
}
