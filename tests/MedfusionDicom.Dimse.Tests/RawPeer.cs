using System.Buffers.Binary;
using System.Net.Sockets;
using MedfusionDicom.Dicom;

namespace MedfusionDicom.Dimse.Tests;

/// <summary>
/// A hand-driven peer on a plain socket: sends whatever bytes a test wants (well-formed or not) and reads what the
/// server answers, so the tests see the server's behaviour at the PDU level.
/// </summary>
public sealed class RawPeer : IAsyncDisposable
{
    private readonly TcpClient _client = new() { NoDelay = true };
    private NetworkStream _stream = null!;

    public static async Task<RawPeer> ConnectAsync(int port)
    {
        var peer = new RawPeer();
        await peer._client.ConnectAsync("127.0.0.1", port);
        peer._stream = peer._client.GetStream();
        return peer;
    }

    public Task SendAsync(byte[] bytes) => _stream.WriteAsync(bytes).AsTask();

    /// <summary>The next PDU (type and body), or null when the server closed the connection.</summary>
    public async Task<(PduType Type, byte[] Body)?> ReadPduAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        var header = new byte[6];
        try
        {
            if (await _stream.ReadAtLeastAsync(header, 6, throwOnEndOfStream: false, cts.Token) < 6) return null;
            var body = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(2))];
            await _stream.ReadExactlyAsync(body, cts.Token);
            return ((PduType)header[0], body);
        }
        catch (IOException)
        {
            return null; // reset by the server: as good as closed
        }
    }

    /// <summary>True once the server has closed the connection (reads return end of stream or a reset).</summary>
    public async Task<bool> ClosedByServerAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var scratch = new byte[1024];
        try
        {
            while (await _stream.ReadAsync(scratch, cts.Token) > 0)
            {
                // Drain anything (an A-ABORT) before the close.
            }
            return true;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Associates with a storage context for CT (id 1) and Verification (id 3), both Explicit VR LE.</summary>
    public async Task<AssociateAccept> AssociateAsync(string calledAe = ScpHost.AETitle)
    {
        await SendAsync(PduCodec.Encode(Request(calledAe)));
        var pdu = await ReadPduAsync() ?? throw new InvalidOperationException("closed instead of answering the A-ASSOCIATE-RQ");
        Assert.Equal(PduType.AssociateAccept, pdu.Type);
        return (AssociateAccept)PduCodec.DecodeAssociate(pdu.Type, pdu.Body);
    }

    public static AssociateRequest Request(string calledAe = ScpHost.AETitle, string callingAe = "RAWPEER")
    {
        var rq = new AssociateRequest
        {
            CalledAE = calledAe,
            CallingAE = callingAe,
            MaxPduLength = 16384,
            ImplementationClassUid = "1.2.3.4",
        };
        rq.PresentationContexts.Add(new PresentationContextProposal(1, DicomUID.CTImageStorage.UID, [DicomUID.ExplicitVRLittleEndian.UID]));
        rq.PresentationContexts.Add(new PresentationContextProposal(3, DicomUID.Verification.UID, [DicomUID.ExplicitVRLittleEndian.UID]));
        return rq;
    }

    /// <summary>One P-DATA-TF PDU carrying one PDV.</summary>
    public static byte[] PData(byte contextId, bool command, bool last, ReadOnlySpan<byte> data)
    {
        var pdu = new byte[12 + data.Length];
        PduCodec.WriteDataHeaders(pdu, data.Length, contextId, command, last);
        data.CopyTo(pdu.AsSpan(12));
        return pdu;
    }

    public static byte[] StoreCommand(string sopClass, string sopInstance, ushort messageId = 1) =>
        DimseCommand.Encode(DimseCommand.StoreRequest(messageId, sopClass, sopInstance));

    /// <summary>The status of the next DIMSE response (a single-PDV command).</summary>
    public async Task<DicomStatus> ReadStatusAsync() => DimseCommand.Status(await ReadResponseAsync());

    /// <summary>The next DIMSE response's command set (a single-PDV command).</summary>
    public async Task<DicomDataset> ReadResponseAsync()
    {
        var pdu = await ReadPduAsync() ?? throw new InvalidOperationException("closed instead of answering");
        Assert.Equal(PduType.DataTransfer, pdu.Type);
        Assert.True((pdu.Body[5] & 3) == 3, "response is not a single last command fragment");
        return DimseCommand.Decode(pdu.Body[6..]);
    }

    public async ValueTask DisposeAsync()
    {
        await Task.Yield();
        _client.Dispose();
    }
}
