using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace MedfusionDicom.Dimse;

/// <summary>A peer did not send (or take) bytes within the allowed time.</summary>
public sealed class DicomTimeoutException(string message) : TimeoutException(message);

/// <summary>One PDU as read: its type and its body (after the 6-byte header), valid until the next read.</summary>
internal readonly record struct RawPdu(PduType Type, ReadOnlyMemory<byte> Body);

/// <summary>
/// The transport under one association: reads whole PDUs into a reusable buffer (bounded by the negotiated maximum,
/// so a peer cannot make us allocate what it claims) and writes PDUs, each read and write under a timeout. Reads
/// and writes are never concurrent: both sides of the protocol are driven by one sequential loop.
/// </summary>
internal sealed class DicomConnection : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly Socket? _socket;
    private readonly CancellationTokenSource _timer;
    private readonly CancellationToken _outer;
    private byte[] _buf;
    private int _start;
    private int _end;
    private int _closed;

    public DicomConnection(Stream stream, Socket? socket, EndPoint? remote, CancellationToken cancellationToken)
    {
        _stream = stream;
        _socket = socket;
        RemoteEndPoint = remote;
        _outer = cancellationToken;
        _timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Small to start with (an idle or rejected connection costs little); grows to the largest PDU actually read.
        _buf = new byte[16 * 1024];
    }

    public EndPoint? RemoteEndPoint { get; }
    public string Peer => RemoteEndPoint?.ToString() ?? "?";
    public Stream Stream => _stream;

    /// <summary>
    /// Reads one PDU. The first byte may take up to <paramref name="waitTimeout"/> (idle or ARTIM); once a PDU has
    /// begun, the rest must arrive within <paramref name="pduTimeout"/>, so a peer that stalls mid-PDU is dropped.
    /// Returns null when the peer closed the connection cleanly between PDUs.
    /// </summary>
    public async ValueTask<RawPdu?> ReadPduAsync(TimeSpan waitTimeout, TimeSpan pduTimeout, int maxBodyLength)
    {
        if (!await FillAsync(1, waitTimeout, "waiting for a PDU").ConfigureAwait(false)) return null;
        if (!await FillAsync(PduCodec.HeaderLength, pduTimeout, "reading a PDU header").ConfigureAwait(false))
            throw new DicomProtocolException("connection closed inside a PDU header", AbortReason.NotSpecified);
        var type = _buf[_start];
        if (type is < 1 or > 7) throw new DicomProtocolException($"unrecognized PDU type 0x{type:X2}", AbortReason.UnrecognizedPdu);
        var length = BinaryPrimitives.ReadUInt32BigEndian(_buf.AsSpan(_start + 2));
        if (length > (uint)maxBodyLength)
            throw new DicomProtocolException($"{(PduType)type} PDU claims {length} bytes, more than the {maxBodyLength} allowed", AbortReason.InvalidPduParameterValue);
        var total = PduCodec.HeaderLength + (int)length;
        if (!await FillAsync(total, pduTimeout, $"reading a {(PduType)type} PDU of {length} bytes").ConfigureAwait(false))
            throw new DicomProtocolException($"connection closed inside a {(PduType)type} PDU ({_end - _start} of {total} bytes)", AbortReason.NotSpecified);
        var pdu = new RawPdu((PduType)type, new ReadOnlyMemory<byte>(_buf, _start + PduCodec.HeaderLength, (int)length));
        _start += total;
        return pdu;
    }

    /// <summary>Ensures <paramref name="count"/> unread bytes are buffered; false when the peer closed before any of them.</summary>
    private async ValueTask<bool> FillAsync(int count, TimeSpan timeout, string what)
    {
        if (_end - _start >= count) return true;
        if (_buf.Length - _start < count)
        {
            // Compact, or grow to hold the PDU: growth is bounded by the maximum body length checked by the caller.
            var target = _buf.Length >= count ? _buf : new byte[Math.Max(count, _buf.Length * 2)];
            Buffer.BlockCopy(_buf, _start, target, 0, _end - _start);
            _end -= _start;
            _start = 0;
            _buf = target;
        }
        _timer.CancelAfter(timeout);
        try
        {
            while (_end - _start < count)
            {
                var read = await _stream.ReadAsync(_buf.AsMemory(_end), _timer.Token).ConfigureAwait(false);
                if (read == 0) return false;
                _end += read;
                AckNow();
            }
            return true;
        }
        catch (OperationCanceledException) when (!_outer.IsCancellationRequested)
        {
            throw new DicomTimeoutException($"peer {Peer} sent nothing for {timeout.TotalSeconds:0.###} s while {what}");
        }
        finally
        {
            if (!_timer.IsCancellationRequested) _timer.CancelAfter(Timeout.Infinite);
        }
    }

    private static readonly byte[] One = [1, 0, 0, 0];

    /// <summary>
    /// Linux TCP_QUICKACK: acknowledge at once instead of delaying the ACK (up to 40 ms). Senders that leave Nagle's
    /// algorithm on (dcmtk by default) hold their last small segment until that ACK; without this, every message
    /// from them would wait out the delayed-ACK timer. The kernel clears the flag after each ACK, so it is re-armed per read.
    /// </summary>
    private void AckNow()
    {
        if (_socket is null || !OperatingSystem.IsLinux()) return;
        try
        {
            _socket.SetRawSocketOption(6 /* IPPROTO_TCP */, 12 /* TCP_QUICKACK */, One);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Only an optimisation; a closed or odd socket is dealt with by the read itself.
        }
    }

    /// <summary>Writes bytes, giving up when the peer does not take them within <paramref name="timeout"/>.</summary>
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, TimeSpan timeout)
    {
        _timer.CancelAfter(timeout);
        try
        {
            await _stream.WriteAsync(data, _timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!_outer.IsCancellationRequested)
        {
            throw new DicomTimeoutException($"peer {Peer} took no data for {timeout.TotalSeconds:0.###} s");
        }
        finally
        {
            if (!_timer.IsCancellationRequested) _timer.CancelAfter(Timeout.Infinite);
        }
    }

    /// <summary>Sends an A-ABORT if the transport still works; never throws (the association is over anyway).</summary>
    public async ValueTask TryAbortAsync(AbortSource source, AbortReason reason)
    {
        if (Volatile.Read(ref _closed) != 0) return;
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _stream.WriteAsync(PduCodec.EncodeAbort(source, reason), cts.Token).ConfigureAwait(false);
            await _stream.FlushAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or SocketException or InvalidOperationException)
        {
            // The peer is gone or not reading: nothing more to tell it.
        }
    }

    /// <summary>Waits (at most <paramref name="timeout"/>, the ARTIM timer) for the peer to close, as PS3.8 Sta13 requires.</summary>
    public async ValueTask WaitForCloseAsync(TimeSpan timeout)
    {
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(_outer);
            cts.CancelAfter(timeout);
            var scratch = new byte[512];
            while (await _stream.ReadAsync(scratch, cts.Token).ConfigureAwait(false) > 0)
            {
                // Anything the peer still sends after release or reject is ignored (PS3.8 Sta13).
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // ARTIM expired or the transport failed: we close our side either way.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        try
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            // Closing a broken transport: nothing to recover.
        }
        _socket?.Dispose();
        _timer.Dispose();
    }
}
