using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.IO;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedfusionDicom.Dimse;

public sealed class DicomClientOptions
{
    public required string Host { get; set; }
    public required int Port { get; set; }
    public string CalledAE { get; set; } = "ANY-SCP";
    public string CallingAE { get; set; } = "MEDFUSION";
    public DicomTlsOptions? Tls { get; set; }
    public DicomTimeouts Timeouts { get; set; } = new();
    public uint MaxPduLength { get; set; } = DicomAssociation.DefaultMaxPduLength;
    /// <summary>Used when the peer accepts a file's SOP class but not its transfer syntax.</summary>
    public IDicomTranscoder Transcoder { get; set; } = CodecTranscoder.Default;
}

/// <summary>The outcome of one file: the peer's status, or why it was not sent (<see cref="Error"/>).</summary>
public sealed record DicomStoreResult(string Path, string? SopInstanceUid, DicomStatus? Status, string? Error)
{
    /// <summary>Stored: the peer answered success or a warning.</summary>
    public bool Succeeded => Status is { } s && !s.IsFailure && s.Category != DicomStatusCategory.Cancel;

    /// <summary>
    /// Not sent because the file is not DICOM at all (no DICM prefix, does not parse as a dataset), as opposed to a
    /// DICOM file that is broken or refused. Callers walking folders skip these; a file named explicitly is an error.
    /// </summary>
    public bool IsNotDicom { get; init; }
}

/// <summary>A DICOM SCU: C-ECHO, and C-STORE of many files over as few associations as presentation contexts allow.</summary>
public sealed class DicomClient(DicomClientOptions options, ILoggerFactory? loggerFactory = null)
{
    private const int MaxContexts = 128;
    private readonly ILogger _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("MedfusionDicom.Dimse.Scu");

    public DicomClientOptions Options { get; } = options;

    /// <summary>Sends a C-ECHO; throws when the association cannot be made or the echo gets no answer.</summary>
    public async Task<DicomStatus> EchoAsync(CancellationToken cancellationToken = default)
    {
        var proposal = new PresentationContextProposal(1, DicomUID.Verification.UID, [DicomUID.ExplicitVRLittleEndian.UID, DicomUID.ImplicitVRLittleEndian.UID]);
        await using var association = await ClientAssociation.OpenAsync(Options, [proposal], _logger, cancellationToken).ConfigureAwait(false);
        if (!association.Contexts.ContainsKey(1)) throw new DicomException("the peer does not accept the Verification SOP class");
        var status = await association.RequestAsync(1, DimseCommand.EchoRequest(association.NextMessageId()), null, cancellationToken).ConfigureAwait(false);
        await association.ReleaseAsync().ConfigureAwait(false);
        return status;
    }

    /// <summary>
    /// Files, and every file below the folders, in a stable order. Below a folder, hidden files and folders (on Linux,
    /// names that start with a dot) are skipped: an SCP's unfinished .part files and its .journal are not instances.
    /// </summary>
    private static readonly EnumerationOptions VisibleFilesBelow = new() { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System };

    public static IEnumerable<string> ExpandPaths(IEnumerable<string> pathsOrFolders)
    {
        foreach (var p in pathsOrFolders)
        {
            if (Directory.Exists(p))
            {
                foreach (var f in Directory.EnumerateFiles(p, "*", VisibleFilesBelow).Order(StringComparer.Ordinal)) yield return f;
            }
            else yield return p;
        }
    }

    /// <summary>
    /// Stores the files; one result per file, in order. Files that cannot be read, or whose SOP class or transfer
    /// syntax the peer refuses, fail on their own; an association that breaks fails the files it had not finished.
    /// Throws only when the first association cannot be made (nothing was sent).
    /// </summary>
    public async Task<IReadOnlyList<DicomStoreResult>> StoreAsync(IEnumerable<string> paths, CancellationToken cancellationToken = default)
    {
        var results = new List<DicomStoreResult>();
        var sources = new List<(int Index, SourceFile File)>();
        foreach (var path in paths)
        {
            try
            {
                sources.Add((results.Count, SourceFile.Probe(path)));
                results.Add(null!);
            }
            catch (NotDicomFileException ex)
            {
                results.Add(new DicomStoreResult(path, null, null, ex.Message) { IsNotDicom = true });
            }
            catch (Exception ex) when (ex is DicomException or IOException or UnauthorizedAccessException)
            {
                results.Add(new DicomStoreResult(path, null, null, ex.Message));
            }
        }
        var first = true;
        foreach (var batch in Batches(sources))
        {
            var proposals = Proposals(batch.Select(s => s.File));
            ClientAssociation opened;
            try
            {
                opened = await ClientAssociation.OpenAsync(Options, proposals, _logger, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!first && ex is DicomException or IOException or TimeoutException)
            {
                // Earlier batches went through: report this one's files as failed rather than lose those results.
                foreach (var (index, file) in batch) results[index] = new DicomStoreResult(file.Path, file.SopInstanceUid, null, "no association: " + ex.Message);
                continue;
            }
            first = false;
            await using var association = opened;
            var sent = 0;
            try
            {
                foreach (var (index, file) in batch)
                {
                    results[index] = await StoreOneAsync(association, proposals, file, cancellationToken).ConfigureAwait(false);
                    sent++;
                }
                await association.ReleaseAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is DicomException or IOException or TimeoutException)
            {
                await association.AbortAsync().ConfigureAwait(false);
                foreach (var (index, file) in batch.Skip(sent))
                    results[index] = new DicomStoreResult(file.Path, file.SopInstanceUid, null, "association failed: " + ex.Message);
            }
        }
        return results;
    }

    /// <summary>Splits the files so that no association needs more than 128 presentation contexts.</summary>
    private static IEnumerable<List<(int Index, SourceFile File)>> Batches(List<(int Index, SourceFile File)> sources)
    {
        var batch = new List<(int, SourceFile)>();
        var keys = new HashSet<(string, string)>();
        var classes = new HashSet<string>();
        foreach (var source in sources)
        {
            var key = (source.File.SopClassUid, source.File.TransferSyntax.UID.UID);
            var added = (keys.Contains(key) ? 0 : 1) + (classes.Contains(key.SopClassUid) ? 0 : 1);
            if (keys.Count + classes.Count + added > MaxContexts)
            {
                yield return batch;
                batch = [];
                keys.Clear();
                classes.Clear();
            }
            keys.Add(key);
            classes.Add(key.SopClassUid);
            batch.Add(source);
        }
        if (batch.Count > 0) yield return batch;
    }

    /// <summary>
    /// One context per (SOP class, transfer syntax) of the files, so each can go unchanged, plus one per SOP class
    /// offering Explicit then Implicit VR LE as the fallback for files whose own syntax is refused.
    /// </summary>
    private static List<PresentationContextProposal> Proposals(IEnumerable<SourceFile> files)
    {
        var list = new List<PresentationContextProposal>();
        var seen = new HashSet<(string, string)>();
        var fallbacks = new HashSet<string>();
        foreach (var f in files)
        {
            if (seen.Add((f.SopClassUid, f.TransferSyntax.UID.UID)))
                list.Add(new PresentationContextProposal((byte)(list.Count * 2 + 1), f.SopClassUid, [f.TransferSyntax.UID.UID]));
        }
        foreach (var f in files)
        {
            if (fallbacks.Add(f.SopClassUid))
                list.Add(new PresentationContextProposal((byte)(list.Count * 2 + 1), f.SopClassUid,
                    [DicomUID.ExplicitVRLittleEndian.UID, DicomUID.ImplicitVRLittleEndian.UID]));
        }
        return list;
    }

    private async Task<DicomStoreResult> StoreOneAsync(ClientAssociation association, List<PresentationContextProposal> proposals, SourceFile file,
        CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var own = file.TransferSyntax.UID.UID;
        byte? exact = null, fallback = null;
        foreach (var p in proposals)
        {
            if (p.AbstractSyntax != file.SopClassUid || !association.Contexts.TryGetValue(p.Id, out var accepted)) continue;
            if (accepted.TransferSyntax.UID.UID == own) exact ??= p.Id;
            else if (Options.Transcoder.CanTranscode(file.TransferSyntax, accepted.TransferSyntax)) fallback ??= p.Id;
        }
        if (exact is null && fallback is null)
        {
            var why = association.Contexts.Values.Any(c => c.AbstractSyntax == file.SopClassUid)
                ? $"the peer refuses {file.TransferSyntax} and no accepted syntax can be reached by transcoding"
                : $"the peer does not accept SOP class {file.SopClassUid}";
            Log.ClientSkipped(_logger, association.Id, association.Connection.Peer, file.Path, file.SopInstanceUid, why);
            return new DicomStoreResult(file.Path, file.SopInstanceUid, null, why);
        }
        var contextId = exact ?? fallback!.Value;
        var syntax = association.Contexts[contextId].TransferSyntax;
        Func<Stream, CancellationToken, Task> writer;
        if (exact is not null && file.IsRaw) writer = (s, c) => CopyDatasetAsync(file, s, c);
        else
        {
            // Parsed (and transcoded, when the syntax changes) here, so that a file that cannot be read fails alone.
            DicomFile parsed;
            try
            {
                parsed = Options.Transcoder.Transcode(DicomFile.Open(file.Path), syntax);
            }
            catch (Exception ex) when (ex is DicomException or IOException)
            {
                return new DicomStoreResult(file.Path, file.SopInstanceUid, null, ex.Message);
            }
            writer = (s, c) => DicomWriter.WriteDatasetAsync(s, parsed.Dataset, syntax, c);
        }
        var command = DimseCommand.StoreRequest(association.NextMessageId(), file.SopClassUid, file.SopInstanceUid);
        var status = await association.RequestAsync(contextId, command, writer, ct).ConfigureAwait(false);
        Log.ClientStored(_logger, association.Id, association.Connection.Peer, file.SopInstanceUid, syntax.UID.UID, status.ToString(),
            Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return new DicomStoreResult(file.Path, file.SopInstanceUid, status, status.IsFailure ? $"the peer answered {status}" : null);
    }

    private static async Task CopyDatasetAsync(SourceFile file, Stream destination, CancellationToken ct)
    {
        await using var fs = new FileStream(file.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        fs.Position = file.DatasetOffset;
        await fs.CopyToAsync(destination, 256 * 1024, ct).ConfigureAwait(false);
    }
}

/// <summary>The requestor side of one association (Sta1 to Sta5 to Sta6, then Sta7 on release).</summary>
internal sealed class ClientAssociation : DicomAssociation, IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly long _started = Stopwatch.GetTimestamp();
    private ushort _messageId;
    private int _operations;

    private ClientAssociation(DicomConnection connection, DicomClientOptions options, ILogger logger)
        : base(connection, options.Timeouts, options.MaxPduLength) => _logger = logger;

    public ushort NextMessageId() => ++_messageId;

    public static async Task<ClientAssociation> OpenAsync(DicomClientOptions options, IReadOnlyList<PresentationContextProposal> proposals,
        ILogger logger, CancellationToken ct)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            connectTimeout.CancelAfter(options.Timeouts.Artim);
            try
            {
                await socket.ConnectAsync(options.Host, options.Port, connectTimeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                socket.Dispose();
                throw new DicomException($"cannot connect to {options.Host}:{options.Port}: {ex.Message}", ex);
            }
        }
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        if (options.Tls is { } tls)
        {
            var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
            using var handshake = CancellationTokenSource.CreateLinkedTokenSource(ct);
            handshake.CancelAfter(options.Timeouts.Artim);
            try
            {
                await ssl.AuthenticateAsClientAsync(tls.ClientOptions(options.Host), handshake.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                await ssl.DisposeAsync().ConfigureAwait(false);
                throw new DicomException($"TLS handshake with {options.Host}:{options.Port} failed: {ex.Message}", ex);
            }
            stream = ssl;
        }
        var association = new ClientAssociation(new DicomConnection(stream, socket, socket.RemoteEndPoint, ct), options, logger);
        try
        {
            await association.NegotiateAsync(options, proposals).ConfigureAwait(false);
            return association;
        }
        catch
        {
            await association.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task NegotiateAsync(DicomClientOptions options, IReadOnlyList<PresentationContextProposal> proposals)
    {
        var rq = Ours(new AssociateRequest(), options.CalledAE, options.CallingAE);
        rq.PresentationContexts.AddRange(proposals);
        State = AssociationState.AwaitingAccept;
        await SendPduAsync(PduCodec.Encode(rq)).ConfigureAwait(false);
        RawPdu pdu;
        try
        {
            pdu = await ReadExpectedAsync(Timeouts.Artim, PduType.AssociateAccept, PduType.AssociateReject).ConfigureAwait(false);
        }
        catch (DicomProtocolException ex)
        {
            await Connection.TryAbortAsync(AbortSource.ServiceProvider, ex.Reason).ConfigureAwait(false);
            throw;
        }
        if (pdu.Type == PduType.AssociateReject)
        {
            var (result, source, reason) = PduCodec.DecodeReject(pdu.Body.Span);
            State = AssociationState.AwaitingClose;
            throw new DicomAssociationRejectedException(result, source, reason);
        }
        var ac = (AssociateAccept)PduCodec.DecodeAssociate(pdu.Type, pdu.Body.Span);
        PeerMaxPduLength = ac.MaxPduLength;
        foreach (var answer in ac.PresentationContexts)
        {
            var proposal = proposals.FirstOrDefault(p => p.Id == answer.Id);
            if (answer.Result != PresentationContextResult.Acceptance || proposal is null) continue;
            if (!proposal.TransferSyntaxes.Contains(answer.TransferSyntax))
                throw new DicomProtocolException($"peer accepted context {answer.Id} with {answer.TransferSyntax}, which was not proposed");
            Contexts[answer.Id] = (proposal.AbstractSyntax, DicomTransferSyntax.Parse(answer.TransferSyntax));
        }
        State = AssociationState.Established;
        Log.ClientAssociated(_logger, Id, Connection.Peer, options.CallingAE, options.CalledAE, Contexts.Count, proposals.Count);
    }

    /// <summary>Sends a request (and its dataset) and waits for the response's status.</summary>
    public async Task<DicomStatus> RequestAsync(byte contextId, DicomDataset command, Func<Stream, CancellationToken, Task>? dataset, CancellationToken ct)
    {
        await SendMessageAsync(contextId, command, dataset, ct).ConfigureAwait(false);
        var messageId = command.GetSingleValue<ushort>(DicomTag.MessageID);
        byte? responseContext = null;
        while (true)
        {
            var pdu = await ReadExpectedAsync(Timeouts.Operation, PduType.DataTransfer).ConfigureAwait(false);
            foreach (var pdv in ParsePdvs(pdu.Body))
            {
                if (!pdv.IsCommand) throw new DicomProtocolException("dataset in a response that has none", AbortReason.UnexpectedPduParameter);
                var response = AppendCommandFragment(pdv, ref responseContext);
                if (response is null) continue;
                var respondedTo = DimseCommand.MessageIdBeingRespondedTo(response);
                if (respondedTo != messageId || DimseCommand.CommandField(response) != (DimseCommand.CommandField(command) | 0x8000))
                    throw new DicomProtocolException($"response to message {respondedTo} (command 0x{DimseCommand.CommandField(response):X4}) while waiting for {messageId}");
                _operations++;
                return DimseCommand.Status(response);
            }
        }
    }

    public async Task ReleaseAsync()
    {
        await SendPduAsync(PduCodec.EncodeReleaseRequest()).ConfigureAwait(false);
        State = AssociationState.AwaitingReleaseResponse;
        // P-DATA may still arrive in Sta7; a well-behaved peer has nothing more for us, so wait for the RP alone.
        await ReadExpectedAsync(Timeouts.Artim, PduType.ReleaseResponse).ConfigureAwait(false);
        State = AssociationState.AwaitingClose;
        Log.ClientReleased(_logger, Id, Connection.Peer, _operations, Stopwatch.GetElapsedTime(_started).TotalMilliseconds);
    }

    public async Task AbortAsync()
    {
        if (State != AssociationState.AwaitingClose) await Connection.TryAbortAsync(AbortSource.ServiceUser, AbortReason.NotSpecified).ConfigureAwait(false);
        State = AssociationState.AwaitingClose;
    }

    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}
