using MedfusionDicom.Dicom;
using MedfusionDicom.Dimse.Tests;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>Series the gateway tests send, made from the small corpus files.</summary>
internal static class TestSeries
{
    /// <summary>Copies of MR_small as one series of <paramref name="count"/> instances (new SOP Instance UIDs and numbers).</summary>
    public static IReadOnlyList<string> Mr(TempDir dir, int count)
    {
        var folder = dir.Sub("series-" + Guid.NewGuid().ToString("N")[..8]);
        var source = DicomFile.Open(Corpus.Pydicom("MR_small.dcm"));
        var series = DicomUID.Generate().UID;
        return Enumerable.Range(1, count).Select(n =>
        {
            var copy = source.Dataset.Clone();
            var uid = DicomUID.Generate().UID;
            copy.AddOrUpdate(DicomTag.SOPInstanceUID, uid).AddOrUpdate(DicomTag.SeriesInstanceUID, series)
                .AddOrUpdate(DicomTag.InstanceNumber, n.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var path = Path.Combine(folder, $"{n:D3}.dcm");
            new DicomFile(copy).Save(path);
            return path;
        }).ToList();
    }
}
