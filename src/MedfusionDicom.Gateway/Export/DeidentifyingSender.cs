using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Deidentification;
using MedfusionDicom.Gateway.Storage;

namespace MedfusionDicom.Gateway.Export;

/// <summary>
/// A research destination: each instance of a batch is de-identified (PS3.15 Annex E, <see cref="DicomDeidentifier"/>)
/// into a staging copy, the copies are sent by the destination's own sender, and the copies are deleted. The stored
/// instances are never changed. The key comes from a file, so that every export (and every node) maps the same UID
/// to the same new UID and the same patient to the same pseudonym.
/// </summary>
internal sealed class DeidentifyingSender(IDestinationSender inner, DestinationDeidentificationOptions settings, string stagingDirectory) : IDestinationSender
{
    private readonly DicomDeidentifier _deidentifier = new(new DeidentificationSettings
    {
        Key = File.ReadAllBytes(settings.KeyFile),
        Options = settings.Options.Select(DeidentificationOptionNames.Parse).ToHashSet(),
    });

    public int BatchSize => inner.BatchSize;

    public async Task<IReadOnlyList<ExportOutcome>> SendAsync(IReadOnlyList<ExportRecord> batch, CancellationToken ct)
    {
        var staging = Directory.CreateDirectory(Path.Combine(stagingDirectory, Guid.NewGuid().ToString("N"))).FullName;
        try
        {
            var copies = new List<ExportRecord>(batch.Count);
            var outcomes = new List<ExportOutcome>();
            foreach (var export in batch)
            {
                try
                {
                    var source = await DicomFile.OpenAsync(export.Path, cancellationToken: ct).ConfigureAwait(false);
                    var copy = Path.Combine(staging, $"{export.Id}.dcm");
                    await new DicomFile(_deidentifier.Deidentify(source.Dataset)).SaveAsync(copy, source.Dataset.InternalTransferSyntax, ct).ConfigureAwait(false);
                    copies.Add(export with { Path = copy });
                }
                catch (DicomException e)
                {
                    outcomes.Add(new ExportOutcome(export.Id, false, $"cannot be de-identified: {e.Message}"));
                }
            }

            if (copies.Count > 0) outcomes.AddRange(await inner.SendAsync(copies, ct).ConfigureAwait(false));
            return outcomes;
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
