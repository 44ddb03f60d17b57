using MedfusionDicom.Dicom;

namespace MedfusionDicom.Dimse.Tests;

/// <summary>Association negotiation (results, rejections, limits) and the C-STORE statuses of the SCP.</summary>
public sealed class NegotiationAndStatusTests
{
    [Fact]
    public async Task PresentationContexts_AreAnsweredWithPreferenceAndResults3And4()
    {
        await using var scp = await ScpHost.StartAsync(o => o.MaxPduLength = 65536);
        var rq = RawPeer.Request();
        rq.PresentationContexts.Clear();
        rq.PresentationContexts.Add(new PresentationContextProposal(1, DicomUID.CTImageStorage.UID, [DicomUID.ImplicitVRLittleEndian.UID, DicomUID.ExplicitVRLittleEndian.UID]));
        rq.PresentationContexts.Add(new PresentationContextProposal(3, "1.2.3.4.5.6", [DicomUID.ExplicitVRLittleEndian.UID]));
        rq.PresentationContexts.Add(new PresentationContextProposal(5, DicomUID.CTImageStorage.UID, ["1.2.3.999"]));
        rq.PresentationContexts.Add(new PresentationContextProposal(7, DicomUID.MRImageStorage.UID, [DicomUID.JPEG2000Lossless.UID]));
        rq.PresentationContexts.Add(new PresentationContextProposal(9, DicomUID.Verification.UID, [DicomUID.ImplicitVRLittleEndian.UID]));
        rq.AsyncOperations = (5, 5);
        rq.RoleSelections.Add(new RoleSelection(DicomUID.CTImageStorage.UID, ScuRole: true, ScpRole: true));
        await using var peer = await RawPeer.ConnectAsync(scp.Port);
        await peer.SendAsync(PduCodec.Encode(rq));
        var pdu = await peer.ReadPduAsync();
        Assert.Equal(PduType.AssociateAccept, pdu!.Value.Type);
        var ac = (AssociateAccept)PduCodec.DecodeAssociate(pdu.Value.Type, pdu.Value.Body);

        var byId = ac.PresentationContexts.ToDictionary(p => p.Id);
        Assert.Equal((PresentationContextResult.Acceptance, DicomUID.ExplicitVRLittleEndian.UID), (byId[1].Result, byId[1].TransferSyntax));
        Assert.Equal(PresentationContextResult.AbstractSyntaxNotSupported, byId[3].Result);
        Assert.Equal(PresentationContextResult.TransferSyntaxesNotSupported, byId[5].Result);
        Assert.Equal((PresentationContextResult.Acceptance, DicomUID.JPEG2000Lossless.UID), (byId[7].Result, byId[7].TransferSyntax));
        Assert.Equal((PresentationContextResult.Acceptance, DicomUID.ImplicitVRLittleEndian.UID), (byId[9].Result, byId[9].TransferSyntax));
        Assert.Equal(((ushort)1, (ushort)1), ac.AsyncOperations);
        Assert.Equal(new RoleSelection(DicomUID.CTImageStorage.UID, true, false), Assert.Single(ac.RoleSelections));
        Assert.Equal(65536u, ac.MaxPduLength);
        Assert.Equal(DicomUID.ImplementationClassUidValue, ac.ImplementationClassUid);
        Assert.Equal(DicomUID.ImplementationVersionNameValue, ac.ImplementationVersionName);
    }

    [Fact]
    public async Task WrongCalledAe_IsRejectedPermanently_WithReason7()
    {
        await using var scp = await ScpHost.StartAsync();
        var ex = await Assert.ThrowsAsync<DicomAssociationRejectedException>(() => scp.Client("SOMEONE").EchoAsync());
        Assert.Equal((RejectResult.Permanent, RejectSource.ServiceUser, (byte)7), (ex.Result, ex.RejectSource, ex.Reason));
    }

    [Theory]
    [InlineData("TESTSCU", null, true)]
    [InlineData("TESTSCU", "127.0.0.1", true)]
    [InlineData("TESTSCU", "10.11.12.13", false)]
    [InlineData("OTHER", null, false)]
    public async Task CallingAeAllowList_RejectsUnknownPeersWithReason3(string allowedAe, string? allowedHost, bool accepted)
    {
        await using var scp = await ScpHost.StartAsync(o => o.AllowedPeers = [new DicomPeer(allowedAe, allowedHost)]);
        if (accepted)
        {
            Assert.Equal(DicomStatus.Success, await scp.Client().EchoAsync());
            return;
        }
        var ex = await Assert.ThrowsAsync<DicomAssociationRejectedException>(() => scp.Client().EchoAsync());
        Assert.Equal((RejectResult.Permanent, RejectSource.ServiceUser, (byte)3), (ex.Result, ex.RejectSource, ex.Reason));
    }

    [Fact]
    public async Task AssociationsBeyondTheLimit_AreRejectedTransient_LocalLimitExceeded()
    {
        await using var scp = await ScpHost.StartAsync(o => o.MaxAssociations = 1);
        await using (var holder = await RawPeer.ConnectAsync(scp.Port))
        {
            await holder.AssociateAsync();
            var ex = await Assert.ThrowsAsync<DicomAssociationRejectedException>(() => scp.Client().EchoAsync());
            Assert.Equal((RejectResult.Transient, RejectSource.ServiceProviderPresentation, (byte)2), (ex.Result, ex.RejectSource, ex.Reason));
            await holder.SendAsync(PduCodec.EncodeReleaseRequest());
            Assert.Equal(PduType.ReleaseResponse, (await holder.ReadPduAsync())!.Value.Type);
        }
        await scp.WaitIdleAsync();
        Assert.Equal(DicomStatus.Success, await scp.Client().EchoAsync());
    }

    /// <summary>Sends one C-STORE by hand (command, then dataset) and returns the status the SCP answers.</summary>
    private static async Task<DicomStatus> StoreRawAsync(ScpHost scp, string sopClass, string sopInstance, byte[] dataset)
    {
        await using var peer = await RawPeer.ConnectAsync(scp.Port);
        await peer.AssociateAsync();
        await peer.SendAsync(RawPeer.PData(1, command: true, last: true, RawPeer.StoreCommand(sopClass, sopInstance)));
        await peer.SendAsync(RawPeer.PData(1, command: false, last: true, dataset));
        return await peer.ReadStatusAsync();
    }

    private static readonly string CtPath = Corpus.Pydicom("CT_small.dcm");
    private static string CtUid => DicomFile.Open(CtPath).Dataset.GetString(DicomTag.SOPInstanceUID);

    [Fact]
    public async Task StoreOfASopClassOtherThanTheContexts_Is0122()
    {
        await using var scp = await ScpHost.StartAsync();
        Assert.Equal(DicomStatus.SopClassNotSupported, await StoreRawAsync(scp, "1.2.3.4.5.6", CtUid, DatasetAssert.RawDataset(CtPath)));
        Assert.Empty(Directory.GetFiles(scp.Output));
    }

    [Fact]
    public async Task DatasetNotMatchingTheCommand_IsA900_AndNotKept()
    {
        await using var scp = await ScpHost.StartAsync();
        Assert.Equal(DicomStatus.DataSetDoesNotMatchSopClass, await StoreRawAsync(scp, DicomUID.CTImageStorage.UID, "1.2.3.4", DatasetAssert.RawDataset(CtPath)));
        Assert.Empty(Directory.GetFiles(scp.Output));
    }

    [Fact]
    public async Task DatasetThatCannotBeParsed_IsC000_AndNotKept()
    {
        await using var scp = await ScpHost.StartAsync();
        var broken = DatasetAssert.RawDataset(CtPath)[..301]; // ends inside an element
        Assert.Equal(DicomStatus.CannotUnderstand, await StoreRawAsync(scp, DicomUID.CTImageStorage.UID, CtUid, broken));
        Assert.Empty(Directory.GetFiles(scp.Output));
    }

    [Fact]
    public async Task DuplicateInstance_Is0111_WhenDuplicatesAreRejected()
    {
        await using var scp = await ScpHost.StartAsync(handler: dir => new DicomFileStoreHandler(dir) { RejectDuplicates = true });
        var results = await scp.Client().StoreAsync([CtPath, CtPath]);
        Assert.Equal([DicomStatus.Success, DicomStatus.DuplicateSopInstance], results.Select(r => r.Status!.Value));
        Assert.Single(Directory.GetFiles(scp.Output));
    }

    [Fact]
    public async Task StorageNearlyFull_IsA700()
    {
        await using var scp = await ScpHost.StartAsync(handler: dir => new DicomFileStoreHandler(dir) { MinimumFreeBytes = long.MaxValue });
        var result = Assert.Single(await scp.Client().StoreAsync([CtPath]));
        Assert.Equal(DicomStatus.OutOfResources, result.Status);
        Assert.False(result.Succeeded);
    }

    [Fact]
    public async Task UnsupportedCommand_Is0211_AndEchoIs0000()
    {
        await using var scp = await ScpHost.StartAsync();
        await using var peer = await RawPeer.ConnectAsync(scp.Port);
        await peer.AssociateAsync();
        var find = DimseCommand.EchoRequest(7).AddOrUpdate(DicomTag.CommandField, (ushort)0x0020);
        await peer.SendAsync(RawPeer.PData(3, command: true, last: true, DimseCommand.Encode(find)));
        Assert.Equal(DicomStatus.UnrecognizedOperation, await peer.ReadStatusAsync());
        await peer.SendAsync(RawPeer.PData(3, command: true, last: true, DimseCommand.Encode(DimseCommand.EchoRequest(8))));
        Assert.Equal(DicomStatus.Success, await peer.ReadStatusAsync());
    }

    [Fact]
    public async Task OurScu_StoresFragmentedAcrossSmallPdus_ByteForByte()
    {
        // A 4 KB receive limit makes the SCU split every dataset into many PDUs, the SCP reassemble them.
        // With the strict directory fsync on, to run that path too.
        await using var scp = await ScpHost.StartAsync(o => { o.MaxPduLength = 4096; o.SyncDirectory = true; });
        // waveform_ecg.dcm (285 KiB) is above the size the SCP reads back whole, so its header is read streaming.
        var files = new[] { CtPath, Corpus.Pydicom("MR_small_bigendian.dcm"), Corpus.Pydicom("JPEG2000.dcm"), Corpus.Pydicom("rtdose.dcm"), Corpus.Pydicom("waveform_ecg.dcm") };
        var results = await scp.Client().StoreAsync(files);
        Assert.All(results, r => Assert.True(r.Succeeded, $"{r.Path}: {r.Error}"));
        var stored = DatasetAssert.ByInstanceUid(scp.Output);
        foreach (var f in files)
        {
            var received = stored[DicomFile.Open(f).Dataset.GetString(DicomTag.SOPInstanceUID)];
            Assert.Equal(DatasetAssert.RawDataset(f), DatasetAssert.RawDataset(received));
            DatasetAssert.SameInstance(f, received);
        }
    }
}
