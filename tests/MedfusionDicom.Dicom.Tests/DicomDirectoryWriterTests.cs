using MedfusionDicom.Dicom.FileSets;
using MedfusionDicom.Dicom.Tests.Fixtures;

namespace MedfusionDicom.Dicom.Tests;

/// <summary>The DICOMDIR of a File-set, read by dcmtk and checked by dciodvfy.</summary>
public sealed class DicomDirectoryWriterTests
{
    private const string Corpus = "/usr/lib/python3/dist-packages/pydicom/data/test_files";

    [Fact]
    public async Task A_file_set_of_two_patients_gets_a_DICOMDIR_that_dcmtk_reads_and_dciodvfy_accepts_with_every_file_referenced()
    {
        var root = Directory.CreateTempSubdirectory("fileset-").FullName;
        try
        {
            var mr = (await DicomFile.OpenAsync(Path.Combine(Corpus, "MR_small.dcm"))).Dataset;
            var files = new List<string>();
            for (var patient = 1; patient <= 2; patient++)
                for (var series = 1; series <= 2; series++)
                    for (var image = 1; image <= 3; image++)
                    {
                        var ds = mr.Clone()
                            .AddOrUpdate(DicomTag.PatientID, $"SYN{patient:D4}")
                            .AddOrUpdate(DicomTag.PatientName, $"SYNTHETIC^{patient}")
                            .AddOrUpdate(DicomTag.StudyInstanceUID, DicomUID.FromName("fileset", $"{patient}").UID)
                            .AddOrUpdate(DicomTag.SeriesInstanceUID, DicomUID.FromName("fileset", $"{patient}", $"{series}").UID)
                            .AddOrUpdate(DicomTag.SeriesNumber, series)
                            .AddOrUpdate(DicomTag.SOPInstanceUID, DicomUID.FromName("fileset", $"{patient}", $"{series}", $"{image}").UID)
                            .AddOrUpdate(DicomTag.InstanceNumber, image);
                        var path = Path.Combine(root, $"P{patient:D4}", "ST0001", $"SE{series:D4}", $"IM{image:D4}");
                        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                        await new DicomFile(ds).SaveAsync(path);
                        files.Add(path);
                    }

            Assert.Equal(12, await DicomDirectoryWriter.WriteAsync(root, "SYNTHETIC"));
            var dicomdir = Path.Combine(root, "DICOMDIR");

            var fileSet = DcmtkFileSet.Read(root);
            Assert.True(fileSet.IsFileSet, fileSet.Output);
            Assert.Equal((2, 2, 4, 12), (fileSet.Count("PATIENT"), fileSet.Count("STUDY"), fileSet.Count("SERIES"), fileSet.Count("IMAGE")));

            // Every referenced file exists, and every file is referenced.
            var referenced = fileSet.ReferencedFiles;
            Assert.Equal(files.Order(StringComparer.Ordinal), referenced.Order(StringComparer.Ordinal));
            Assert.All(referenced, f => Assert.True(File.Exists(f), f));

            var report = Dciodvfy.Run(dicomdir);
            Assert.True(report.Errors.Count == 0, string.Join("\n", report.Errors));

            // Our own reader follows the offsets: the root's first record is the first patient, whose child is its study.
            var read = (await DicomFile.OpenAsync(dicomdir)).Dataset;
            var records = read.GetSequence(DicomTag.DirectoryRecordSequence).Items;
            Assert.Equal(20, records.Count); // 2 patients, 2 studies, 4 series, 12 images
            Assert.Equal("PATIENT", records[0].GetString(DicomTag.DirectoryRecordType));
            Assert.Equal("1.2.840.10008.1.3.10", (await DicomFile.OpenAsync(dicomdir)).FileMetaInfo.GetString(DicomTag.MediaStorageSOPClassUID));

            // dcmtk's own DICOMDIR code loads it by its offsets and finds every file already there: no record is added.
            var update = DcmtkFileSet.Run(root, "dcmmkdir", "+U", "+r", "-Pgp", "+id", ".");
            Assert.True(update.ExitCode == 0, update.Output);
            Assert.Equal(20, (await DicomFile.OpenAsync(dicomdir)).Dataset.GetSequence(DicomTag.DirectoryRecordSequence).Items.Count);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_path_that_is_not_a_File_ID_is_refused_with_its_name()
    {
        var root = Directory.CreateTempSubdirectory("fileset-").FullName;
        try
        {
            File.Copy(Path.Combine(Corpus, "MR_small.dcm"), Path.Combine(root, "mr_small.dcm"));
            var error = await Assert.ThrowsAsync<DicomException>(() => DicomDirectoryWriter.WriteAsync(root));
            Assert.Contains("'mr_small.dcm' is not a PS3.10 File ID", error.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(root, "DICOMDIR")));
            Assert.True(DicomDirectoryWriter.IsFileIdComponent("IM0001_2"));
            Assert.False(DicomDirectoryWriter.IsFileIdComponent("IM00001234"));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
