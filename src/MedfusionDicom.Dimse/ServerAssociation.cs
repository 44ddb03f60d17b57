using System.Diagnostics;
using System.Net.Security;
using MedfusionDicom.Dicom;

namespace MedfusionDicom.Dimse;

/// <summary>
/// The acceptor side of one association: negotiation (Sta2 to Sta6), then one DIMSE operation at a time (the
/// asynchronous operations window is 1/1), then release or abort. Every exit path closes the transport and, if an
/// instance was being received, deletes its temporary file.
/// </summary>
internal sealed class ServerAssociation : DicomAssociation
{
    private readonly DicomServer _server;
    private readonly bool _tls;
    private DicomAssociationInfo? _info;
    private byte? _commandContext;
    private Operation? _operation;
    private int _operations;
    private bool _holdsSlot;

    /// <summary>The DIMSE request being received: its command, and where its dataset goes (a file, or nowhere).</summary>
    private sealed class Operation(byte contextId, DicomDataset command)
    {
        public byte ContextId { get; } = contextId;
        public DicomDataset Command { get; } = command;
        public DicomStoreRequest? Request { get; init; }
        public IncomingInstance? Instance { get; set; }
        /// <summary>Decided before the dataset arrived: its bytes are discarded and this is answered.</summary>
        public DicomStatus? Refusal { get; set; }
        public string? Comment { get; set; }
        public long DiscardedBytes { get; set; }
        public long Started { get; } = Stopwatch.GetTimestamp();
        public string SopInstanceUid => Command.GetStringOrDefault(DicomTag.AffectedSOPInstanceUID);
    }

    public ServerAssociation(DicomServer server, DicomConnection connection, bool tls)
        : base(connection, server.Options.Timeouts, server.Options.MaxPduLength)
    {
        _server = server;
        _tls = tls;
    }

    private string CallingAE => _info?.CallingAE ?? "";

    public async Task RunAsync(CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var logger = _server.Logger;
        try
        {
            State = AssociationState.AwaitingRequest;
            var pdu = await ReadExpectedAsync(Timeouts.Artim, PduType.AssociateRequest).ConfigureAwait(false);
            var request = (AssociateRequest)PduCodec.DecodeAssociate(pdu.Type, pdu.Body.Span);
            if (!await NegotiateAsync(request).ConfigureAwait(false))
            {
                State = AssociationState.AwaitingClose;
                await Connection.WaitForCloseAsync(Timeouts.Artim).ConfigureAwait(false);
                return;
            }
            State = AssociationState.Established;
            await ServeAsync(ct).ConfigureAwait(false);
            Log.Released(logger, Id, Connection.Peer, CallingAE, Stopwatch.GetElapsedTime(started).TotalMilliseconds, _operations);
            State = AssociationState.AwaitingClose;
            await Connection.WaitForCloseAsync(Timeouts.Artim).ConfigureAwait(false);
        }
        catch (DicomProtocolException ex)
        {
            Log.AbortedByUs(logger, Id, Connection.Peer, CallingAE, ex.Message);
            await Connection.TryAbortAsync(AbortSource.ServiceProvider, ex.Reason).ConfigureAwait(false);
        }
        catch (DicomTimeoutException ex)
        {
            Log.AbortedByUs(logger, Id, Connection.Peer, CallingAE, ex.Message);
            await Connection.TryAbortAsync(AbortSource.ServiceProvider, AbortReason.NotSpecified).ConfigureAwait(false);
        }
        catch (DicomAssociationAbortedException ex)
        {
            Log.EndedByPeer(logger, Id, Connection.Peer, CallingAE, ex.Message);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Log.AbortedByUs(logger, Id, Connection.Peer, CallingAE, "server stopping");
            await Connection.TryAbortAsync(AbortSource.ServiceUser, AbortReason.NotSpecified).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            Log.EndedByPeer(logger, Id, Connection.Peer, CallingAE, "transport failed: " + ex.Message);
        }
        catch (Exception ex)
        {
            // Whatever went wrong stays inside this association: log it, abort it, keep serving the others.
            Log.Failed(logger, ex, Id, Connection.Peer);
            await Connection.TryAbortAsync(AbortSource.ServiceProvider, AbortReason.NotSpecified).ConfigureAwait(false);
        }
        finally
        {
            if (_operation?.Instance is { } partial)
            {
                Log.PartialDiscarded(logger, Id, _operation.SopInstanceUid, partial.DatasetBytes);
                partial.Dispose();
            }
            if (_holdsSlot) _server.ReleaseAssociation();
        }
    }

    /// <summary>Answers the A-ASSOCIATE-RQ: RJ for a wrong called AE, an unknown caller or no free slot, else AC.</summary>
    private async ValueTask<bool> NegotiateAsync(AssociateRequest rq)
    {
        var options = _server.Options;
        (RejectResult, RejectSource, RejectReason, string)? reject = null;
        if ((rq.ProtocolVersion & 1) == 0)
            reject = (RejectResult.Permanent, RejectSource.ServiceProviderAcse, RejectReason.ProtocolVersionNotSupported, $"protocol version {rq.ProtocolVersion}");
        else if (rq.ApplicationContextName != AssociateMessage.DicomApplicationContext)
            reject = (RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.ApplicationContextNameNotSupported, $"application context {rq.ApplicationContextName}");
        else if (!string.Equals(rq.CalledAE, options.AETitle, StringComparison.Ordinal))
            reject = (RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CalledAENotRecognized, $"called AE '{rq.CalledAE}' is not '{options.AETitle}'");
        else if (!_server.IsAllowed(rq.CallingAE, Connection.RemoteEndPoint))
            reject = (RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CallingAENotRecognized, $"calling AE '{rq.CallingAE}' from {Connection.Peer} is not allowed");
        else if (!(_holdsSlot = _server.TryAcquireAssociation()))
            reject = (RejectResult.Transient, RejectSource.ServiceProviderPresentation, RejectReason.LocalLimitExceeded, $"{options.MaxAssociations} associations already");
        if (reject is var (result, source, reason, why))
        {
            Log.Rejected(_server.Logger, Id, Connection.Peer, rq.CallingAE, rq.CalledAE, why);
            await SendPduAsync(PduCodec.EncodeReject(result, source, reason)).ConfigureAwait(false);
            return false;
        }

        // The AC's AE fields repeat the RQ's (PS3.8 §9.3.3: sent as received, not tested).
        var ac = Ours(new AssociateAccept(), rq.CalledAE, rq.CallingAE);
        // We perform one operation at a time; a peer asking for more is told 1/1 (PS3.7 §D.3.3.3).
        ac.AsyncOperations = rq.AsyncOperations is null ? null : ((ushort)1, (ushort)1);
        foreach (var pc in rq.PresentationContexts)
        {
            var answer = Answer(pc);
            ac.PresentationContexts.Add(answer);
            if (answer.Result == PresentationContextResult.Acceptance)
                Contexts[pc.Id] = (pc.AbstractSyntax, DicomTransferSyntax.Parse(answer.TransferSyntax));
        }
        foreach (var role in rq.RoleSelections)
        {
            // We only ever act as SCP of what we accept, so the requestor may be SCU; never the other way round.
            if (_server.AcceptedSopClasses.Contains(role.SopClassUid)) ac.RoleSelections.Add(role with { ScpRole = false });
        }
        PeerMaxPduLength = rq.MaxPduLength;
        var ssl = Connection.Stream as SslStream;
        _info = new DicomAssociationInfo(Id, Connection.RemoteEndPoint, rq.CallingAE, rq.CalledAE, rq.ImplementationClassUid,
            rq.ImplementationVersionName, _tls, ssl?.RemoteCertificate);
        await SendPduAsync(PduCodec.Encode(ac)).ConfigureAwait(false);
        Log.Accepted(_server.Logger, Id, Connection.Peer, rq.CallingAE, rq.CalledAE, Contexts.Count, rq.PresentationContexts.Count,
            rq.MaxPduLength, rq.ImplementationClassUid, rq.ImplementationVersionName);
        return true;
    }

    private PresentationContextAnswer Answer(PresentationContextProposal pc)
    {
        if (!_server.AcceptedSopClasses.Contains(pc.AbstractSyntax))
            return new PresentationContextAnswer(pc.Id, PresentationContextResult.AbstractSyntaxNotSupported, "");
        foreach (var ours in _server.Options.AcceptedTransferSyntaxes)
            if (pc.TransferSyntaxes.Contains(ours.UID.UID))
                return new PresentationContextAnswer(pc.Id, PresentationContextResult.Acceptance, ours.UID.UID);
        return new PresentationContextAnswer(pc.Id, PresentationContextResult.TransferSyntaxesNotSupported, "");
    }

    /// <summary>Sta6: P-DATA-TF until A-RELEASE-RQ. Returns after answering the release.</summary>
    private async Task ServeAsync(CancellationToken ct)
    {
        while (true)
        {
            // Between operations the peer may idle; once a message has begun, the rest must keep coming.
            var wait = _operation is null && _commandContext is null ? Timeouts.Idle : Timeouts.Pdu;
            var pdu = await ReadExpectedAsync(wait, PduType.DataTransfer, PduType.ReleaseRequest).ConfigureAwait(false);
            if (pdu.Type == PduType.ReleaseRequest)
            {
                if (_operation is not null || _commandContext is not null)
                    throw new DicomProtocolException("A-RELEASE-RQ in the middle of a DIMSE message", AbortReason.UnexpectedPdu);
                await SendPduAsync(PduCodec.EncodeReleaseResponse()).ConfigureAwait(false);
                return;
            }
            foreach (var pdv in ParsePdvs(pdu.Body))
            {
                if (pdv.IsCommand)
                {
                    if (_operation is not null) throw new DicomProtocolException("command fragment while a dataset is expected");
                    var command = AppendCommandFragment(pdv, ref _commandContext);
                    if (command is null) continue;
                    _commandContext = null;
                    await OnCommandAsync(pdv.ContextId, command, ct).ConfigureAwait(false);
                }
                else
                {
                    if (_operation is null) throw new DicomProtocolException("dataset fragment without a command");
                    if (pdv.ContextId != _operation.ContextId)
                        throw new DicomProtocolException($"dataset on presentation context {pdv.ContextId}, its command on {_operation.ContextId}");
                    await OnDatasetFragmentAsync(pdv, ct).ConfigureAwait(false);
                }
            }
        }
    }

    private async Task OnCommandAsync(byte contextId, DicomDataset command, CancellationToken ct)
    {
        var field = DimseCommand.CommandField(command);
        var hasDataset = DimseCommand.HasDataset(command);
        switch (field)
        {
            case DimseCommand.CEchoRequest when !hasDataset:
                Log.Echo(_server.Logger, Id, Connection.Peer, CallingAE);
                _operations++;
                await SendMessageAsync(contextId, DimseCommand.Response(command, DicomStatus.Success), null, ct).ConfigureAwait(false);
                return;
            case DimseCommand.CStoreRequest when hasDataset && _server.StoreHandler is not null:
                _operation = await BeginStoreAsync(contextId, command, ct).ConfigureAwait(false);
                return;
            default:
                Log.UnsupportedCommand(_server.Logger, Id, Connection.Peer, CallingAE, field);
                if (hasDataset) _operation = new Operation(contextId, command) { Refusal = DicomStatus.UnrecognizedOperation };
                else await SendMessageAsync(contextId, DimseCommand.Response(command, DicomStatus.UnrecognizedOperation), null, ct).ConfigureAwait(false);
                return;
        }
    }

    private async Task<Operation> BeginStoreAsync(byte contextId, DicomDataset command, CancellationToken ct)
    {
        var (abstractSyntax, syntax) = Contexts[contextId];
        var sopClass = command.GetStringOrDefault(DicomTag.AffectedSOPClassUID);
        var sopInstance = command.GetStringOrDefault(DicomTag.AffectedSOPInstanceUID);
        var request = new DicomStoreRequest(_info!, sopClass, sopInstance, syntax, DimseCommand.MessageId(command));
        var op = new Operation(contextId, command) { Request = request };
        if (sopClass != abstractSyntax || !_server.AcceptedSopClasses.Contains(sopClass) || sopClass == DicomUID.Verification.UID)
        {
            op.Refusal = DicomStatus.SopClassNotSupported;
            op.Comment = $"SOP class {sopClass} not supported on context {contextId} ({abstractSyntax})";
            return op;
        }
        if (sopInstance.Length == 0)
        {
            op.Refusal = DicomStatus.CannotUnderstand;
            op.Comment = "no Affected SOP Instance UID";
            return op;
        }
        try
        {
            var decision = await _server.StoreHandler!.BeginStoreAsync(request, ct).ConfigureAwait(false);
            if (decision.Path is null || !decision.Status.IsSuccess)
            {
                op.Refusal = decision.Status.IsSuccess ? DicomStatus.ProcessingFailure : decision.Status;
                op.Comment = decision.Comment ?? "refused by the store handler";
                return op;
            }
            op.Instance = IncomingInstance.Create(decision.Path, sopClass, sopInstance, syntax, CallingAE, _server.Options.SyncDirectory, _server.Journal);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            (op.Refusal, op.Comment) = MapFailure(ex, sopInstance);
        }
        return op;
    }

    private async Task OnDatasetFragmentAsync(Pdv pdv, CancellationToken ct)
    {
        var op = _operation!;
        if (op.Instance is { } instance)
        {
            try
            {
                instance.Write(pdv.Data.Span);
            }
            catch (IOException ex)
            {
                // Disk full or failing: keep reading the dataset (to answer at its end) but stop writing it.
                instance.Dispose();
                op.Instance = null;
                (op.Refusal, op.Comment) = MapFailure(ex, op.SopInstanceUid);
            }
        }
        else op.DiscardedBytes += pdv.Data.Length;
        if (!pdv.IsLast) return;

        var status = op.Refusal ?? DicomStatus.Success;
        var comment = op.Comment;
        if (op.Instance is { } complete)
        {
            (status, comment) = await CompleteStoreAsync(op, complete, ct).ConfigureAwait(false);
        }
        else if (op.Request is not null)
        {
            Log.StoreFailed(_server.Logger, Id, Connection.Peer, CallingAE, op.SopInstanceUid, status.ToString(), comment ?? "");
        }
        _operation = null;
        _operations++;
        await SendMessageAsync(op.ContextId, DimseCommand.Response(op.Command, status, status.IsSuccess ? null : comment), null, ct).ConfigureAwait(false);
    }

    private async Task<(DicomStatus, string?)> CompleteStoreAsync(Operation op, IncomingInstance instance, CancellationToken ct)
    {
        var request = op.Request!;
        try
        {
            var header = await instance.CommitAsync(request.SopClassUid, request.SopInstanceUid, ct).ConfigureAwait(false);
            var elapsed = Stopwatch.GetElapsedTime(op.Started);
            var stored = new DicomStoredInstance(request, instance.FinalPath, header, instance.DatasetBytes, elapsed, instance.Journaled);
            op.Instance = null;
            DicomStatus status;
            try
            {
                status = await _server.StoreHandler!.InstanceStoredAsync(stored, ct).ConfigureAwait(false);
            }
            finally
            {
                instance.ReleaseJournalRecord();
            }

            Log.Stored(_server.Logger, Id, Connection.Peer, CallingAE, request.SopInstanceUid, request.SopClassUid, stored.DatasetBytes,
                elapsed.TotalMilliseconds, stored.Path);
            return (status, null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            instance.Dispose();
            op.Instance = null;
            var (status, comment) = MapFailure(ex, request.SopInstanceUid);
            Log.StoreFailed(_server.Logger, Id, Connection.Peer, CallingAE, request.SopInstanceUid, status.ToString(), comment);
            return (status, comment);
        }
    }

    /// <summary>
    /// A700 when storage failed (disk full, I/O error), the carried status for a failed check. Anything else is a bug,
    /// in the store handler or here: it is logged with its stack trace and answered 0110 with a comment that gives
    /// nothing of our internals away; the association goes on with the next operation.
    /// </summary>
    private (DicomStatus, string) MapFailure(Exception ex, string sopInstanceUid)
    {
        switch (ex)
        {
            case StoreRefusedException refused:
                return (refused.Status, refused.Message);
            case IOException or UnauthorizedAccessException:
                // The message names our paths; it goes to the log, the peer learns only that writing failed.
                Log.StoreWriteFailed(_server.Logger, ex, Id, Connection.Peer, CallingAE, sopInstanceUid);
                return (DicomStatus.OutOfResources, "cannot write the instance (I/O error)");
            default:
                Log.StoreHandlerFailed(_server.Logger, ex, Id, Connection.Peer, CallingAE, sopInstanceUid);
                return (DicomStatus.ProcessingFailure, "internal error while storing the instance");
        }
    }
}
