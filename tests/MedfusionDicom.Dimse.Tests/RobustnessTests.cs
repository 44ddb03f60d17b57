using System.Buffers.Binary;
using System.Diagnostics;
using MedfusionDicom.Dicom;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Dimse.Tests;

/// <summary>Hostile and broken peers: each must end in an A-ABORT (or a close) and a log line, with the server still serving.</summary>
public sealed class RobustnessTests
{
    private static readonly DicomTimeouts Short = new() { Artim = TimeSpan.FromSeconds(1), Pdu = TimeSpan.FromSeconds(1), Idle = TimeSpan.FromSeconds(5) };

    private static async Task AssertStillServesAsync(ScpHost scp)
    {
        Assert.Equal(DicomStatus.Success, await scp.Client().EchoAsync());
    }

    private static async Task<(PduType Type, byte[] Body)> ExpectAbortAsync(RawPeer peer, AbortReason reason)
    {
        var pdu = await peer.ReadPduAsync();
        Assert.NotNull(pdu);
        Assert.Equal(PduType.Abort, pdu.Value.Type);
        Assert.Equal((byte)AbortSource.ServiceProvider, pdu.Value.Body[2]);
        Assert.Equal((byte)reason, pdu.Value.Body[3]);
        Assert.True(await peer.ClosedByServerAsync(TimeSpan.FromSeconds(5)), "the server kept the connection open after its A-ABORT");
        return pdu.Value;
    }

    [Fact]
    public async Task GarbageBytes_AreAbortedAsUnrecognizedPdu()
    {
        await using var scp = await ScpHost.StartAsync();
        await using (var peer = await RawPeer.ConnectAsync(scp.Port))
        {
            var garbage = new byte[4096];
            new Random(5).NextBytes(garbage);
            garbage[0] = 0x42; // not a PDU type
            await peer.SendAsync(garbage);
            await ExpectAbortAsync(peer, AbortReason.UnrecognizedPdu);
        }
        Assert.True(scp.Logs.Has(LogLevel.Warning, "unrecognized PDU type 0x42"));
        await AssertStillServesAsync(scp);
    }

    [Fact]
    public async Task GarbageAfterAssociation_IsAborted_AndTheAssociationSlotIsFreed()
    {
        await using var scp = await ScpHost.StartAsync(o => o.MaxAssociations = 1);
        await using (var peer = await RawPeer.ConnectAsync(scp.Port))
        {
            await peer.AssociateAsync();
            // A P-DATA-TF whose only PDV has reserved bits in its message control header.
            await peer.SendAsync([0x04, 0, 0, 0, 0, 8, 0, 0, 0, 4, 1, 0xF3, 0xAA, 0xBB]);
            await ExpectAbortAsync(peer, AbortReason.InvalidPduParameterValue);
        }
        await scp.WaitIdleAsync();
        await AssertStillServesAsync(scp); // with a limit of 1, this proves the slot was given back
    }

    /// <summary>Length fields that lie: each must be caught before any allocation or wait the lie implies.</summary>
    [Theory]
    [InlineData("pdu length beyond the maximum")]
    [InlineData("item length beyond the PDU")]
    [InlineData("PDV length beyond the PDU")]
    [InlineData("associate PDU shorter than its fixed part")]
    [InlineData("maximum PDU length too small to carry data")]
    public async Task WrongLengths_AreAbortedAsInvalidParameters(string lie)
    {
        await using var scp = await ScpHost.StartAsync();
        await using var peer = await RawPeer.ConnectAsync(scp.Port);
        switch (lie)
        {
            case "pdu length beyond the maximum":
                await peer.AssociateAsync();
                // Claims 1 GB of P-DATA; the server must refuse without waiting for (or allocating) it.
                await peer.SendAsync([0x04, 0, 0x40, 0, 0, 0, 0, 0]);
                break;
            case "item length beyond the PDU":
                var rq = PduCodec.Encode(RawPeer.Request());
                // The application context item's 16-bit length (right after the 68-byte fixed part) made huge.
                BinaryPrimitives.WriteUInt16BigEndian(rq.AsSpan(6 + 68 + 2), 0xFFF0);
                await peer.SendAsync(rq);
                break;
            case "PDV length beyond the PDU":
                await peer.AssociateAsync();
                await peer.SendAsync([0x04, 0, 0, 0, 0, 8, 0, 0, 0x10, 0, 1, 3, 0xAA, 0xBB]);
                break;
            case "associate PDU shorter than its fixed part":
                await peer.SendAsync([0x01, 0, 0, 0, 0, 4, 0, 1, 0, 0]);
                break;
            case "maximum PDU length too small to carry data":
                var tiny = RawPeer.Request();
                tiny.MaxPduLength = 8;
                await peer.SendAsync(PduCodec.Encode(tiny));
                break;
        }
        await ExpectAbortAsync(peer, AbortReason.InvalidPduParameterValue);
        await AssertStillServesAsync(scp);
    }

    [Fact]
    public async Task TruncatedPdu_ThenClose_EndsTheConnectionQuietly()
    {
        await using var scp = await ScpHost.StartAsync();
        var rq = PduCodec.Encode(RawPeer.Request());
        await using (var peer = await RawPeer.ConnectAsync(scp.Port))
        {
            await peer.SendAsync(rq[..(rq.Length / 2)]);
        }
        await Tools.WaitForAsync(() => Task.FromResult(scp.Logs.Has(LogLevel.Warning, "connection closed inside a AssociateRequest PDU")),
            TimeSpan.FromSeconds(5), "log of the truncated PDU");
        await AssertStillServesAsync(scp);
    }

    [Fact]
    public async Task PeerStallingMidPdu_IsAbortedAfterThePduTimeout()
    {
        await using var scp = await ScpHost.StartAsync(o => o.Timeouts = Short);
        await using var peer = await RawPeer.ConnectAsync(scp.Port);
        await peer.AssociateAsync();
        var command = RawPeer.PData(1, command: true, last: true, RawPeer.StoreCommand(DicomUID.CTImageStorage.UID, "1.2.3"));
        var watch = Stopwatch.StartNew();
        await peer.SendAsync(command[..20]); // and then nothing more
        await ExpectAbortAsync(peer, AbortReason.NotSpecified);
        Assert.InRange(watch.Elapsed.TotalSeconds, 0.9, 5);
        Assert.True(scp.Logs.Has(LogLevel.Warning, "sent nothing for 1 s while reading a DataTransfer PDU"));
        await AssertStillServesAsync(scp);
    }

    [Fact]
    public async Task SilentConnection_IsClosedWhenArtimExpires()
    {
        await using var scp = await ScpHost.StartAsync(o => o.Timeouts = Short);
        await using var peer = await RawPeer.ConnectAsync(scp.Port);
        var watch = Stopwatch.StartNew();
        Assert.True(await peer.ClosedByServerAsync(TimeSpan.FromSeconds(5)));
        Assert.InRange(watch.Elapsed.TotalSeconds, 0.9, 5);
    }

    [Fact]
    public async Task ConnectionFlood_IsCutAtTheLimit_AndServiceResumesWhenItEnds()
    {
        await using var scp = await ScpHost.StartAsync(o =>
        {
            o.MaxAssociations = 2;
            o.MaxPendingConnections = 4;
        });
        var flood = new List<RawPeer>();
        for (var i = 0; i < 20; i++) flood.Add(await RawPeer.ConnectAsync(scp.Port));
        // Six are held (waiting for their A-ASSOCIATE-RQ); the other fourteen are closed at once.
        var closed = await Task.WhenAll(flood.Select(p => p.ClosedByServerAsync(TimeSpan.FromSeconds(2))));
        Assert.Equal(14, closed.Count(c => c));
        Assert.True(scp.Logs.Has(LogLevel.Warning, "6 connections already open"));
        foreach (var p in flood) await p.DisposeAsync();
        await Tools.WaitForAsync(async () =>
        {
            try
            {
                return await scp.Client().EchoAsync() == DicomStatus.Success;
            }
            catch (DicomException)
            {
                return false; // the server may not have seen every close yet
            }
        }, TimeSpan.FromSeconds(10), "echo after the flood");
    }

    [Fact]
    public async Task IdleAssociation_IsAbortedAfterTheIdleTimeout()
    {
        await using var scp = await ScpHost.StartAsync(o => o.Timeouts = Short with { Idle = TimeSpan.FromSeconds(1) });
        await using var peer = await RawPeer.ConnectAsync(scp.Port);
        await peer.AssociateAsync();
        var watch = Stopwatch.StartNew();
        await ExpectAbortAsync(peer, AbortReason.NotSpecified);
        Assert.InRange(watch.Elapsed.TotalSeconds, 0.9, 5);
        Assert.True(scp.Logs.Has(LogLevel.Warning, "while waiting for a PDU"));
    }

    [Fact]
    public async Task OurScu_GivesUpOnAPeerThatNeverAnswers_AfterTheOperationTimeout()
    {
        // A peer that accepts the association and then stays silent.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        var silent = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            await using var stream = new System.Net.Sockets.NetworkStream(socket);
            var buffer = new byte[65536];
            _ = await stream.ReadAsync(buffer);
            var ac = new AssociateAccept { CalledAE = "SILENT", CallingAE = "TESTSCU", MaxPduLength = 16384, ImplementationClassUid = "1.2.3" };
            ac.PresentationContexts.Add(new PresentationContextAnswer(1, PresentationContextResult.Acceptance, DicomUID.ExplicitVRLittleEndian.UID));
            await stream.WriteAsync(PduCodec.Encode(ac));
            while (await stream.ReadAsync(buffer) > 0)
            {
                // Swallows the C-ECHO and whatever follows, answering nothing.
            }
        });
        var client = new DicomClient(new DicomClientOptions
        {
            Host = "127.0.0.1",
            Port = port,
            CalledAE = "SILENT",
            CallingAE = "TESTSCU",
            Timeouts = new DicomTimeouts { Operation = TimeSpan.FromSeconds(1) },
        });
        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAsync<DicomTimeoutException>(() => client.EchoAsync());
        Assert.InRange(watch.Elapsed.TotalSeconds, 0.9, 5);
        await silent.WaitAsync(TimeSpan.FromSeconds(5)); // our SCU closed the connection
    }

    [Fact]
    public async Task UnexpectedPdu_BeforeAssociation_IsAbortedAsUnexpected()
    {
        await using var scp = await ScpHost.StartAsync();
        await using var peer = await RawPeer.ConnectAsync(scp.Port);
        await peer.SendAsync(PduCodec.EncodeReleaseResponse());
        await ExpectAbortAsync(peer, AbortReason.UnexpectedPdu);
    }

    [Fact]
    public async Task DataOnAContextThatWasNotAccepted_IsAborted()
    {
        await using var scp = await ScpHost.StartAsync();
        await using var peer = await RawPeer.ConnectAsync(scp.Port);
        await peer.AssociateAsync();
        await peer.SendAsync(RawPeer.PData(9, command: true, last: true, DimseCommand.Encode(DimseCommand.EchoRequest(1))));
        await ExpectAbortAsync(peer, AbortReason.UnexpectedPduParameter);
    }

    /// <summary>Half an instance, then an A-ABORT or a dropped connection: nothing of it may remain on disk.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AbortInTheMiddleOfAnInstance_DiscardsThePartialFile(bool sendAbort)
    {
        await using var scp = await ScpHost.StartAsync();
        var dataset = DatasetAssert.RawDataset(Corpus.Pydicom("CT_small.dcm"));
        var uid = DicomFile.Open(Corpus.Pydicom("CT_small.dcm")).Dataset.GetString(DicomTag.SOPInstanceUID);
        await using (var peer = await RawPeer.ConnectAsync(scp.Port))
        {
            await peer.AssociateAsync();
            await peer.SendAsync(RawPeer.PData(1, command: true, last: true, RawPeer.StoreCommand(DicomUID.CTImageStorage.UID, uid)));
            await peer.SendAsync(RawPeer.PData(1, command: false, last: false, dataset.AsSpan(0, dataset.Length / 2)));
            // The temporary file exists while the instance is arriving...
            await Tools.WaitForAsync(() => Task.FromResult(Directory.GetFiles(scp.Output, "*.part").Length == 1), TimeSpan.FromSeconds(5), "partial file");
            if (sendAbort) await peer.SendAsync(PduCodec.EncodeAbort(AbortSource.ServiceUser, AbortReason.NotSpecified));
        }
        await scp.WaitIdleAsync();
        // ...and is gone, with no final file, once the association has ended.
        Assert.Empty(Directory.GetFiles(scp.Output));
        Assert.True(scp.Logs.Has(LogLevel.Warning, $"discarded the partial instance {uid}"));
        await AssertStillServesAsync(scp);
    }

    [Fact]
    public async Task ThirtyTwoConcurrentAssociations_AllStoreCorrectly()
    {
        using var dir = new TempDir();
        // 32 x 4 distinct instances made from CT_small: new SOP Instance UIDs, everything else as in the source.
        var source = DicomFile.Open(Corpus.Pydicom("CT_small.dcm"));
        var files = new List<string>();
        for (var i = 0; i < 128; i++)
        {
            source.Dataset.AddOrUpdate(DicomTag.SOPInstanceUID, DicomUID.Generate().UID);
            var path = Path.Combine(dir.Path, $"ct{i:D3}.dcm");
            await source.SaveAsync(path);
            files.Add(path);
        }
        GateHandler? gate = null;
        await using var scp = await ScpHost.StartAsync(o => o.MaxAssociations = 32, dir => gate = new GateHandler(new DicomFileStoreHandler(dir), 32));
        var client = scp.Client();
        var batches = await Task.WhenAll(files.Chunk(4).Select(chunk => Task.Run(() => client.StoreAsync(chunk))));
        Assert.Equal(32, batches.Length);
        Assert.All(batches.SelectMany(b => b), r => Assert.True(r.Succeeded, $"{r.Path}: {r.Error}"));
        var stored = DatasetAssert.ByInstanceUid(scp.Output);
        Assert.Equal(128, stored.Count);
        Assert.True(gate!.Opened, "the 32 associations were never all storing at the same time");
        foreach (var f in files)
            Assert.Equal(DatasetAssert.RawDataset(f), DatasetAssert.RawDataset(stored[DicomFile.Open(f).Dataset.GetString(DicomTag.SOPInstanceUID)]));
        await scp.WaitIdleAsync();
        Assert.Equal(32, scp.Logs.Lines.Count(l => l.Message.Contains("released after", StringComparison.Ordinal)));
        await AssertStillServesAsync(scp);
    }

    /// <summary>
    /// Holds every association's first instance until <c>count</c> associations have one in flight, so the test knows
    /// they really stored at the same time; then stores through the real file handler.
    /// </summary>
    private sealed class GateHandler(IDicomStoreHandler inner, int count) : IDicomStoreHandler
    {
        private readonly TaskCompletionSource _allIn = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly HashSet<long> _seen = [];

        public bool Opened => _allIn.Task.IsCompletedSuccessfully;

        public async ValueTask<DicomStoreDecision> BeginStoreAsync(DicomStoreRequest request, CancellationToken cancellationToken)
        {
            lock (_seen)
            {
                if (_seen.Add(request.Association.Id) && _seen.Count == count) _allIn.TrySetResult();
            }
            // Bounded, so a broken concurrency path fails the assertion on Opened instead of hanging the run.
            await Task.WhenAny(_allIn.Task, Task.Delay(TimeSpan.FromSeconds(20), cancellationToken));
            return await inner.BeginStoreAsync(request, cancellationToken);
        }

        public ValueTask<DicomStatus> InstanceStoredAsync(DicomStoredInstance instance, CancellationToken cancellationToken) =>
            inner.InstanceStoredAsync(instance, cancellationToken);
    }
}
