using MedfusionDicom.Dimse;
using MedfusionDicom.Gateway.Storage;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Gateway.Export;

/// <summary>C-STORE SCU: many instances per association (DICOM TLS when the destination has Tls), transcoded when the destination does not accept the stored transfer syntax.</summary>
internal sealed class DimseSender(DestinationOptions destination, ILoggerFactory loggerFactory) : IDestinationSender
{
    private readonly DicomClient _client = new(new DicomClientOptions
    {
        Host = destination.Host,
        Port = destination.Port,
        CalledAE = destination.AeTitle,
        CallingAE = destination.CallingAeTitle,
        Tls = destination.Tls?.ToDicomTlsOptions(),
    }, loggerFactory);

    public int BatchSize => 64;

    public async Task<IReadOnlyList<ExportOutcome>> SendAsync(IReadOnlyList<ExportRecord> batch, CancellationToken ct)
    {
        var results = await _client.StoreAsync(batch.Select(e => e.Path), ct).ConfigureAwait(false);
        var byPath = batch.ToDictionary(e => e.Path, StringComparer.Ordinal);
        return results.Select(r => new ExportOutcome(byPath[r.Path].Id, r.Succeeded, r.Succeeded ? null : r.Error ?? $"status {r.Status}")).ToList();
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
