using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Dimse;

/// <summary>Every log line of the DIMSE layer, source-generated, each with the association id and peer for correlation.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "DICOM SCP {AETitle} listening on {EndPoint} (TLS {Tls}, at most {MaxAssociations} associations)")]
    public static partial void Listening(ILogger logger, string aeTitle, string endPoint, bool tls, int maxAssociations);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "assoc {AssociationId} from {Peer}: accepted {CallingAE} -> {CalledAE}, {Accepted}/{Proposed} presentation contexts, peer max PDU {PeerMaxPdu}, implementation {Implementation} {Version}")]
    public static partial void Accepted(ILogger logger, long associationId, string peer, string callingAE, string calledAE, int accepted, int proposed, uint peerMaxPdu, string implementation, string version);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "assoc {AssociationId} from {Peer}: rejected {CallingAE} -> {CalledAE}: {Why}")]
    public static partial void Rejected(ILogger logger, long associationId, string peer, string callingAE, string calledAE, string why);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "assoc {AssociationId} from {Peer}: {CallingAE} released after {ElapsedMs:0.0} ms, {Operations} operations")]
    public static partial void Released(ILogger logger, long associationId, string peer, string callingAE, double elapsedMs, int operations);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "assoc {AssociationId} with {Peer} ({CallingAE}): aborted by us: {Reason}")]
    public static partial void AbortedByUs(ILogger logger, long associationId, string peer, string callingAE, string reason);

    [LoggerMessage(EventId = 105, Level = LogLevel.Information, Message = "assoc {AssociationId} with {Peer} ({CallingAE}): ended by the peer: {Reason}")]
    public static partial void EndedByPeer(ILogger logger, long associationId, string peer, string callingAE, string reason);

    [LoggerMessage(EventId = 106, Level = LogLevel.Error, Message = "assoc {AssociationId} with {Peer}: unexpected failure; association aborted")]
    public static partial void Failed(ILogger logger, Exception exception, long associationId, string peer);

    [LoggerMessage(EventId = 107, Level = LogLevel.Debug, Message = "assoc {AssociationId} from {Peer}: C-ECHO from {CallingAE}")]
    public static partial void Echo(ILogger logger, long associationId, string peer, string callingAE);

    [LoggerMessage(EventId = 108, Level = LogLevel.Information, Message = "assoc {AssociationId} from {Peer} ({CallingAE}): stored {SopInstanceUid} ({SopClassUid}), {Bytes} bytes in {ElapsedMs:0.0} ms -> {Path}")]
    public static partial void Stored(ILogger logger, long associationId, string peer, string callingAE, string sopInstanceUid, string sopClassUid, long bytes, double elapsedMs, string path);

    [LoggerMessage(EventId = 109, Level = LogLevel.Warning, Message = "assoc {AssociationId} from {Peer} ({CallingAE}): C-STORE of {SopInstanceUid} answered {Status}: {Reason}")]
    public static partial void StoreFailed(ILogger logger, long associationId, string peer, string callingAE, string sopInstanceUid, string status, string reason);

    [LoggerMessage(EventId = 110, Level = LogLevel.Warning, Message = "assoc {AssociationId}: discarded the partial instance {SopInstanceUid} ({Bytes} bytes received)")]
    public static partial void PartialDiscarded(ILogger logger, long associationId, string sopInstanceUid, long bytes);

    [LoggerMessage(EventId = 111, Level = LogLevel.Warning, Message = "assoc {AssociationId} from {Peer} ({CallingAE}): unsupported command 0x{CommandField:X4} answered 0211")]
    public static partial void UnsupportedCommand(ILogger logger, long associationId, string peer, string callingAE, ushort commandField);

    [LoggerMessage(EventId = 112, Level = LogLevel.Warning, Message = "connection from {Peer} closed at once: {Limit} connections already open")]
    public static partial void TooManyConnections(ILogger logger, string peer, int limit);

    [LoggerMessage(EventId = 113, Level = LogLevel.Error, Message = "assoc {AssociationId} from {Peer} ({CallingAE}): storing {SopInstanceUid} failed unexpectedly (a bug in the store handler or the SCP); answered 0110, the association goes on")]
    public static partial void StoreHandlerFailed(ILogger logger, Exception exception, long associationId, string peer, string callingAE, string sopInstanceUid);

    [LoggerMessage(EventId = 114, Level = LogLevel.Warning, Message = "assoc {AssociationId} from {Peer} ({CallingAE}): cannot write {SopInstanceUid}; answered A700")]
    public static partial void StoreWriteFailed(ILogger logger, Exception exception, long associationId, string peer, string callingAE, string sopInstanceUid);

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "assoc {AssociationId} to {Peer}: associated {CallingAE} -> {CalledAE}, {Accepted}/{Proposed} presentation contexts accepted")]
    public static partial void ClientAssociated(ILogger logger, long associationId, string peer, string callingAE, string calledAE, int accepted, int proposed);

    [LoggerMessage(EventId = 201, Level = LogLevel.Debug, Message = "assoc {AssociationId} to {Peer}: C-STORE {SopInstanceUid} in {TransferSyntax} -> {Status} in {ElapsedMs:0.0} ms")]
    public static partial void ClientStored(ILogger logger, long associationId, string peer, string sopInstanceUid, string transferSyntax, string status, double elapsedMs);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "assoc {AssociationId} to {Peer}: {Path} ({SopInstanceUid}) not sent: {Reason}")]
    public static partial void ClientSkipped(ILogger logger, long associationId, string peer, string path, string sopInstanceUid, string reason);

    [LoggerMessage(EventId = 203, Level = LogLevel.Information, Message = "assoc {AssociationId} to {Peer}: released after {Operations} operations in {ElapsedMs:0.0} ms")]
    public static partial void ClientReleased(ILogger logger, long associationId, string peer, int operations, double elapsedMs);

    [LoggerMessage(EventId = 120, Level = LogLevel.Information, Message = "store journal {Directory}: opened, two segments of {SegmentBytes} bytes; {Recovered} instance files written again from it")]
    public static partial void JournalOpened(ILogger logger, string directory, int segmentBytes, int recovered);

    [LoggerMessage(EventId = 121, Level = LogLevel.Warning, Message = "store journal: {Path} ({Bytes} bytes) was acknowledged but not on disk intact; written again from the journal")]
    public static partial void JournalReplayed(ILogger logger, string path, int bytes);

    [LoggerMessage(EventId = 122, Level = LogLevel.Critical, Message = "store journal {Directory}: checkpoint failed; instances that need the journal are refused (A700) until restart")]
    public static partial void JournalFailed(ILogger logger, Exception exception, string directory);
}
