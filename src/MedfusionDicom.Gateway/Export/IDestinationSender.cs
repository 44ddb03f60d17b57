using MedfusionDicom.Gateway.Storage;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Gateway.Export;

/// <summary>What a destination said about one instance of a batch: stored, or refused with a reason.</summary>
public sealed record ExportOutcome(long ExportId, bool Succeeded, string? Error = null);

/// <summary>
/// Sends a batch of stored instances to one destination. A batch the destination could not take at all (unreachable,
/// association refused, HTTP 5xx) throws; a destination that answers per instance gets an outcome for each.
/// </summary>
public interface IDestinationSender : IAsyncDisposable
{
    /// <summary>How many instances go in one association or one request.</summary>
    int BatchSize { get; }

    Task<IReadOnlyList<ExportOutcome>> SendAsync(IReadOnlyList<ExportRecord> batch, CancellationToken ct);
}

public static class DestinationSenders
{
    /// <param name="stagingDirectory">Where a de-identifying destination writes the copies it sends, for the time of a batch.</param>
    public static IDestinationSender Create(DestinationOptions destination, string stagingDirectory, ILoggerFactory loggerFactory)
    {
        IDestinationSender sender = destination.Type switch
        {
            DestinationType.Dimse => new DimseSender(destination, loggerFactory),
            DestinationType.DicomWeb => new StowRsSender(destination),
            _ => throw new ArgumentOutOfRangeException(nameof(destination), destination.Type, "unknown destination type"),
        };
        return destination.Deidentify is { } deidentify ? new DeidentifyingSender(sender, deidentify, Path.Combine(stagingDirectory, destination.Name)) : sender;
    }
}
