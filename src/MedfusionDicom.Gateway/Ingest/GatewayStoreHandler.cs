using MedfusionDicom.Dicom;
using MedfusionDicom.Dimse;
using MedfusionDicom.Gateway.Storage;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Gateway.Ingest;

/// <summary>
/// Takes C-STORE instances into the gateway: each goes to its UID-addressed file (the SCP writes, syncs and renames
/// it), then its index row is committed, and only then does the SCU get 0000. A repeated SOP Instance UID replaces
/// the file and its row. Below the free-space watermark, instances are refused with A700 before anything is written.
/// </summary>
public sealed class GatewayStoreHandler(GatewayIndex index, InstanceFiles files, long minimumFreeBytes, ILogger logger) : IDicomStoreHandler
{
    private readonly FreeSpaceProbe _freeSpace = new(files.Root);
    private long _warnedAt = -1_000_000;

    public ValueTask<DicomStoreDecision> BeginStoreAsync(DicomStoreRequest request, CancellationToken cancellationToken)
    {
        if (!DicomUID.IsValid(request.SopInstanceUid))
            return ValueTask.FromResult(DicomStoreDecision.Reject(DicomStatus.CannotUnderstand, "invalid SOP Instance UID"));
        if (_freeSpace.FreeBytes() < minimumFreeBytes)
        {
            var now = Environment.TickCount64;
            if (now - Volatile.Read(ref _warnedAt) > 60_000)
            {
                Volatile.Write(ref _warnedAt, now);
                GatewayLog.StorageFull(logger, minimumFreeBytes / (1024 * 1024), files.Root);
            }

            return ValueTask.FromResult(DicomStoreDecision.Reject(DicomStatus.OutOfResources, "storage nearly full"));
        }

        return ValueTask.FromResult(DicomStoreDecision.Accept(files.PathOf(request.SopInstanceUid)));
    }

    public async ValueTask<DicomStatus> InstanceStoredAsync(DicomStoredInstance instance, CancellationToken cancellationToken)
    {
        var record = Describe(instance.Header, instance.Path, new FileInfo(instance.Path).Length, instance.Request.TransferSyntax.UID.UID,
            instance.Request.Association.CallingAE, instance.Request.Association.CalledAE, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), derived: false, route: null);
        await index.UpsertInstanceAsync(record, cancellationToken).ConfigureAwait(false);
        // A journaled instance's row becomes durable with the journal's checkpoint; any other needs its own sync.
        if (!instance.Journaled) await index.Database.MakeCommitsDurableAsync(cancellationToken).ConfigureAwait(false);
        GatewayLog.Stored(logger, record.SopInstanceUid, record.StudyInstanceUid, record.SeriesInstanceUid, record.CallingAeTitle);
        return DicomStatus.Success;
    }

    /// <summary>The index row of an instance: its QIDO attributes from the header, and where it is and came from.</summary>
    public static InstanceRecord Describe(DicomDataset header, string path, long size, string transferSyntax, string callingAe, string calledAe,
        long receivedAtMs, bool derived, string? route) => new()
    {
        SopInstanceUid = header.GetString(DicomTag.SOPInstanceUID),
        SopClassUid = header.GetString(DicomTag.SOPClassUID),
        StudyInstanceUid = header.GetStringOrDefault(DicomTag.StudyInstanceUID) is { Length: > 0 } study ? study
            : throw new DicomValueException("the instance has no Study Instance UID (0020,000D)"),
        SeriesInstanceUid = header.GetStringOrDefault(DicomTag.SeriesInstanceUID) is { Length: > 0 } series ? series
            : throw new DicomValueException("the instance has no Series Instance UID (0020,000E)"),
        PatientId = header.GetStringOrDefault(DicomTag.PatientID),
        PatientName = header.GetStringOrDefault(DicomTag.PatientName),
        StudyDate = header.GetStringOrDefault(DicomTag.StudyDate),
        StudyDescription = header.GetStringOrDefault(DicomTag.StudyDescription),
        StudyTime = header.GetStringOrDefault(DicomTag.StudyTime),
        StudyId = header.GetStringOrDefault(DicomTag.StudyID),
        ReferringPhysicianName = header.GetStringOrDefault(DicomTag.ReferringPhysicianName),
        PatientBirthDate = header.GetStringOrDefault(DicomTag.PatientBirthDate),
        PatientSex = header.GetStringOrDefault(DicomTag.PatientSex),
        AccessionNumber = header.GetStringOrDefault(DicomTag.AccessionNumber),
        Modality = header.GetStringOrDefault(DicomTag.Modality),
        SeriesDescription = header.GetStringOrDefault(DicomTag.SeriesDescription),
        SeriesNumber = int.TryParse(header.GetStringOrDefault(DicomTag.SeriesNumber).Trim(), out var sn) ? sn : null,
        InstanceNumber = int.TryParse(header.GetStringOrDefault(DicomTag.InstanceNumber).Trim(), out var inum) ? inum : null,
        Path = path,
        Size = size,
        TransferSyntaxUid = transferSyntax,
        CallingAeTitle = callingAe,
        CalledAeTitle = calledAe,
        ReceivedAtMs = receivedAtMs,
        Derived = derived,
        Route = route,
    };
}
