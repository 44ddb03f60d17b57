using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Deidentification;
using MedfusionDicom.Gateway.Storage;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>A destination with Deidentify: what reaches it is de-identified with the destination's key; what the gateway stores is not changed.</summary>
public sealed class ResearchDestinationTests
{
    [Fact]
    public async Task A_research_destination_receives_de_identified_results_with_keyed_UIDs_and_the_stored_ones_keep_their_identity()
    {
        var key = Enumerable.Range(0, 32).Select(i => (byte)(255 - i)).ToArray();
        var keyFile = Path.Combine(Path.GetTempPath(), $"research-{Guid.NewGuid():N}.key");
        await File.WriteAllBytesAsync(keyFile, key);
        try
        {
            await using var gateway = await GatewayRun.StartAsync(o => o.Destinations[0].Deidentify = new DestinationDeidentificationOptions
            {
                KeyFile = keyFile,
                Options = ["retain-longitudinal-modified-dates"],
            });
            var files = TestSeries.Mr(gateway.Dir, 2);
            Assert.Equal(0, (await gateway.StoreScuAsync(files)).ExitCode);
            await gateway.WaitForReceivedAsync(2, TimeSpan.FromMinutes(2));

            var stored = (await gateway.Index.ListInstancesAsync()).Where(i => i.Derived).ToList();
            Assert.Equal(2, stored.Count);
            var expected = new DicomDeidentifier(new DeidentificationSettings { Key = key });
            var received = Directory.GetFiles(gateway.Received).Select(f => DicomFile.Open(f).Dataset).ToList();
            Assert.Equal(2, received.Count);
            var source = DicomFile.Open(files[0]).Dataset;
            foreach (var result in received)
            {
                Assert.Equal("YES", result.GetString(DicomTag.PatientIdentityRemoved));
                Assert.Equal("MODIFIED", result.GetString(DicomTag.LongitudinalTemporalInformationModified));
                Assert.NotEqual(source.GetString(DicomTag.PatientName), result.GetString(DicomTag.PatientName));
                Assert.Equal(expected.NewUid(source.GetString(DicomTag.StudyInstanceUID)), result.GetString(DicomTag.StudyInstanceUID)); // the destination's key
                Assert.Contains(result.GetString(DicomTag.SOPInstanceUID), stored.Select(s => expected.NewUid(s.SopInstanceUid)));
            }

            Assert.Single(received.Select(r => r.GetString(DicomTag.SeriesInstanceUID)).Distinct());
            foreach (var instance in stored)
                Assert.Equal(source.GetString(DicomTag.PatientName), DicomFile.Open(instance.Path).Dataset.GetString(DicomTag.PatientName));
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(gateway.Options.DataDirectory, ".cache", "deidentified"), "*", SearchOption.AllDirectories));
        }
        finally
        {
            File.Delete(keyFile);
        }
    }
}
