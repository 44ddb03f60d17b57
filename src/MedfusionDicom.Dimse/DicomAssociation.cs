using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using MedfusionDicom.Dicom;

namespace MedfusionDicom.Dimse;

/// <summary>The peer rejected our A-ASSOCIATE-RQ.</summary>
public sealed class DicomAssociationRejectedException(RejectResult result, RejectSource source, byte reason)
    : DicomException($"association rejected: result {(byte)result} ({result}), source {(byte)source} ({source}), reason {reason}")
{
    public RejectResult Result { get; } = result;
    public RejectSource RejectSource { get; } = source;
    public byte Reason { get; } = reason;
}

/// <summary>The peer sent an A-ABORT, or the association was aborted because of a protocol error or timeout.</summary>
public sealed class DicomAssociationAbortedException(string message, Exception? inner = null) : DicomException(message, inner);

/// <summary>What a service handler knows about the association a request came on.</summary>
public sealed record DicomAssociationInfo(
    long Id,
    EndPoint? RemoteEndPoint,
    string CallingAE,
    string CalledAE,
    string ImplementationClassUid,
    string ImplementationVersionName,
    bool IsTls,
    X509Certificate? PeerCertificate);

/// <summary>The association states of PS3.8 §9.2 that a sequential implementation passes through.</summary>
internal enum AssociationState
{
    /// <summary>Sta2: transport open, awaiting A-ASSOCIATE-RQ (ARTIM running).</summary>
    AwaitingRequest,
    /// <summary>Sta5: A-ASSOCIATE-RQ sent, awaiting A-ASSOCIATE-AC or -RJ.</summary>
    AwaitingAccept,
    /// <summary>Sta6: data transfer.</summary>
    Established,
    /// <summary>Sta7: A-RELEASE-RQ sent, awaiting A-RELEASE-RP.</summary>
    AwaitingReleaseResponse,
    /// <summary>Sta13: released, rejected or aborted; awaiting the transport to close (ARTIM running).</summary>
    AwaitingClose,
}

/// <summary>One PDV of a P-DATA-TF PDU.</summary>
internal readonly record struct Pdv(byte ContextId, bool IsCommand, bool IsLast, ReadOnlyMemory<byte> Data);

/// <summary>Timeouts of the upper layer; all of them end the association with an A-ABORT when they expire.</summary>
public sealed record DicomTimeouts
{
    /// <summary>ARTIM: how long to wait for A-ASSOCIATE-RQ/AC/RJ, the TLS handshake, and the close after release.</summary>
    public TimeSpan Artim { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long an established association may stay silent between PDUs.</summary>
    public TimeSpan Idle { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>How long the rest of a PDU may take once it has begun, and how long a write may block.</summary>
    public TimeSpan Pdu { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>SCU: how long to wait for the response to a DIMSE request.</summary>
    public TimeSpan Operation { get; init; } = TimeSpan.FromMinutes(2);
}

/// <summary>
/// The part of an association both roles share: the state machine's checks on incoming PDUs, P-DATA-TF parsing,
/// and fragmenting outgoing messages to the peer's maximum PDU length.
/// </summary>
internal abstract class DicomAssociation
{
    /// <summary>What we ask a peer to send at most; large enough that the per-PDU cost vanishes, small enough to buffer.</summary>
    public const uint DefaultMaxPduLength = 256 * 1024;
    /// <summary>Largest A-ASSOCIATE PDU we read: 128 contexts with many syntaxes fit easily.</summary>
    protected const int MaxAssociatePduLength = 1024 * 1024;
    private const int MaxCommandLength = 64 * 1024;
    /// <summary>Cap on what we send in one PDU when the peer sets no limit (0).</summary>
    private const int UnlimitedSendCap = 256 * 1024;

    private static long _nextId;
    private readonly MemoryStream _command = new();
    private byte[]? _sendBuffer;

    protected DicomAssociation(DicomConnection connection, DicomTimeouts timeouts, uint maxPduLength)
    {
        Connection = connection;
        Timeouts = timeouts;
        MaxPduLength = maxPduLength;
        Id = Interlocked.Increment(ref _nextId);
    }

    public long Id { get; }
    public DicomConnection Connection { get; }
    public DicomTimeouts Timeouts { get; }
    /// <summary>Our receive limit, as advertised in our A-ASSOCIATE PDU.</summary>
    public uint MaxPduLength { get; }
    /// <summary>The peer's receive limit (0 = none). One that cannot hold a PDV header and a byte of data is a protocol error.</summary>
    public uint PeerMaxPduLength
    {
        get => _peerMaxPduLength;
        protected set => _peerMaxPduLength = value is > 0 and < 16
            ? throw new DicomProtocolException($"peer maximum PDU length {value} is unusable")
            : value;
    }

    private uint _peerMaxPduLength;
    public AssociationState State { get; protected set; }
    /// <summary>Accepted presentation contexts by id, with their transfer syntax.</summary>
    public Dictionary<byte, (string AbstractSyntax, DicomTransferSyntax TransferSyntax)> Contexts { get; } = [];

    /// <summary>
    /// Reads the next PDU and checks it is one the current state may receive (PS3.8 Table 9-10): an A-ABORT ends the
    /// association, and any PDU the state does not expect is a protocol error answered with an A-ABORT.
    /// </summary>
    protected async ValueTask<RawPdu> ReadExpectedAsync(TimeSpan wait, params PduType[] expected)
    {
        var max = State == AssociationState.AwaitingRequest || State == AssociationState.AwaitingAccept
            ? MaxAssociatePduLength
            : (int)Math.Min(MaxPduLength == 0 ? int.MaxValue : MaxPduLength, int.MaxValue);
        // Release and abort PDUs are tiny; a P-DATA-TF may be as large as we advertised.
        var pdu = await Connection.ReadPduAsync(wait, Timeouts.Pdu, Math.Max(max, 64)).ConfigureAwait(false)
            ?? throw new DicomAssociationAbortedException($"peer {Connection.Peer} closed the connection in state {State}");
        if (pdu.Type == PduType.Abort)
        {
            var (source, reason) = PduCodec.DecodeAbort(pdu.Body.Span);
            State = AssociationState.AwaitingClose;
            throw new DicomAssociationAbortedException($"peer {Connection.Peer} aborted the association (source {(byte)source}, reason {(byte)reason})");
        }
        if (Array.IndexOf(expected, pdu.Type) < 0)
            throw new DicomProtocolException($"unexpected {pdu.Type} PDU in state {State}", AbortReason.UnexpectedPdu);
        return pdu;
    }

    /// <summary>Splits a P-DATA-TF body into PDVs, checking each item length against the PDU.</summary>
    protected static List<Pdv> ParsePdvs(ReadOnlyMemory<byte> body)
    {
        var list = new List<Pdv>(2);
        var rest = body;
        if (rest.Length == 0) throw new DicomProtocolException("P-DATA-TF without any PDV");
        while (rest.Length > 0)
        {
            var span = rest.Span;
            if (span.Length < 6) throw new DicomProtocolException($"PDV header truncated ({span.Length} bytes left in the PDU)");
            var length = BinaryPrimitives.ReadUInt32BigEndian(span);
            if (length < 2 || length > span.Length - 4)
                throw new DicomProtocolException($"PDV length {length} does not fit the {span.Length - 4} bytes left in the PDU");
            var header = span[5];
            if ((header & 0xFC) != 0) throw new DicomProtocolException($"PDV message control header 0x{header:X2} has reserved bits set");
            list.Add(new Pdv(span[4], (header & 1) != 0, (header & 2) != 0, rest.Slice(6, (int)length - 2)));
            rest = rest[(4 + (int)length)..];
        }
        return list;
    }

    /// <summary>
    /// Gathers command fragments; returns the command set once its last fragment arrived, else null. Fragments of one
    /// command must all use one presentation context and must not interleave with a dataset.
    /// </summary>
    protected DicomDataset? AppendCommandFragment(Pdv pdv, ref byte? commandContext)
    {
        if (commandContext is { } pc && pc != pdv.ContextId)
            throw new DicomProtocolException($"command fragments on presentation contexts {pc} and {pdv.ContextId}");
        if (!Contexts.ContainsKey(pdv.ContextId))
            throw new DicomProtocolException($"PDV on presentation context {pdv.ContextId}, which was not accepted", AbortReason.UnexpectedPduParameter);
        if (_command.Length + pdv.Data.Length > MaxCommandLength)
            throw new DicomProtocolException($"command set longer than {MaxCommandLength} bytes");
        commandContext = pdv.ContextId;
        _command.Write(pdv.Data.Span);
        if (!pdv.IsLast) return null;
        var bytes = _command.ToArray();
        _command.SetLength(0);
        return DimseCommand.Decode(bytes);
    }

    /// <summary>Sends a command and, when <paramref name="writeDataset"/> is given, its dataset, fragmented to the peer's limit.</summary>
    public async Task SendMessageAsync(byte contextId, DicomDataset command, Func<Stream, CancellationToken, Task>? writeDataset, CancellationToken ct)
    {
        var stream = new PDataStream(this, contextId, command: true);
        await stream.WriteAsync(DimseCommand.Encode(command), ct).ConfigureAwait(false);
        await stream.CompleteAsync().ConfigureAwait(false);
        if (writeDataset is null) return;
        stream = new PDataStream(this, contextId, command: false);
        await writeDataset(stream, ct).ConfigureAwait(false);
        await stream.CompleteAsync().ConfigureAwait(false);
    }

    private int MaxPdvData()
    {
        var limit = PeerMaxPduLength == 0 ? UnlimitedSendCap : (int)Math.Min(PeerMaxPduLength, UnlimitedSendCap);
        return limit - 6;
    }

    /// <summary>Fills in what every A-ASSOCIATE PDU of ours carries: AE titles, our receive limit, our implementation.</summary>
    protected T Ours<T>(T message, string calledAe, string callingAe) where T : AssociateMessage
    {
        message.CalledAE = calledAe;
        message.CallingAE = callingAe;
        message.MaxPduLength = MaxPduLength;
        message.ImplementationClassUid = DicomUID.ImplementationClassUidValue;
        message.ImplementationVersionName = DicomUID.ImplementationVersionNameValue;
        return message;
    }

    protected ValueTask SendPduAsync(byte[] pdu) => Connection.WriteAsync(pdu, Timeouts.Pdu);

    /// <summary>
    /// A write-only stream that packs what is written into P-DATA-TF PDUs of one PDV each. A full buffer is sent only
    /// when more data follows, so the last PDV can always carry the "last fragment" bit. Sending is network I/O, so
    /// only the asynchronous writes are supported: a synchronous one would have to block on the socket.
    /// </summary>
    private sealed class PDataStream : Stream
    {
        private const int Headers = 12;
        private readonly DicomAssociation _owner;
        private readonly byte _contextId;
        private readonly bool _command;
        private readonly int _max;
        private readonly byte[] _buf;
        private int _count;

        public PDataStream(DicomAssociation owner, byte contextId, bool command)
        {
            _owner = owner;
            _contextId = contextId;
            _command = command;
            _max = owner.MaxPdvData();
            var size = Headers + _max;
            if (owner._sendBuffer is null || owner._sendBuffer.Length < size) owner._sendBuffer = new byte[size];
            _buf = owner._sendBuffer;
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (buffer.Length > 0)
            {
                while (_count >= _max) await SendAsync(last: false).ConfigureAwait(false);
                var n = Math.Min(buffer.Length, _max - _count);
                buffer.Span[..n].CopyTo(_buf.AsSpan(Headers + _count));
                _count += n;
                buffer = buffer[n..];
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(ReadOnlySpan<byte> buffer) => throw SynchronousWrite();

        public override void Write(byte[] buffer, int offset, int count) => throw SynchronousWrite();

        public override void WriteByte(byte value) => throw SynchronousWrite();

        private static NotSupportedException SynchronousWrite() =>
            new("a DIMSE message stream sends PDUs as it fills; write it with WriteAsync (DicomWriter.WriteDatasetAsync)");

        public override void Flush()
        {
            // PDUs go out as they fill; the final one is sent by CompleteAsync.
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public ValueTask CompleteAsync() => SendAsync(last: true);

        private async ValueTask SendAsync(bool last)
        {
            PduCodec.WriteDataHeaders(_buf, _count, _contextId, _command, last);
            await _owner.Connection.WriteAsync(_buf.AsMemory(0, Headers + _count), _owner.Timeouts.Pdu).ConfigureAwait(false);
            _count = 0;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
