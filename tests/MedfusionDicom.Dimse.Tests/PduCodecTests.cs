using MedfusionDicom.Dicom;

namespace MedfusionDicom.Dimse.Tests;

/// <summary>PDU and command-set encoding, checked field by field and against malformed input.</summary>
public sealed class PduCodecTests
{
    [Fact]
    public void AssociateRequest_RoundTrips_WithEveryUserInformationItem()
    {
        var rq = RawPeer.Request("CALLED", "CALLING");
        rq.AsyncOperations = (3, 2);
        rq.RoleSelections.Add(new RoleSelection(DicomUID.CTImageStorage.UID, true, false));
        rq.ImplementationVersionName = "TEST_1";
        var bytes = PduCodec.Encode(rq);
        Assert.Equal((byte)PduType.AssociateRequest, bytes[0]);
        Assert.Equal(bytes.Length - 6, (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(2)));
        Assert.Equal("CALLED          "u8.ToArray(), bytes[10..26]);

        var back = (AssociateRequest)PduCodec.DecodeAssociate(PduType.AssociateRequest, bytes.AsSpan(6));
        Assert.Equal(("CALLED", "CALLING", 16384u, "1.2.3.4", "TEST_1"), (back.CalledAE, back.CallingAE, back.MaxPduLength, back.ImplementationClassUid, back.ImplementationVersionName));
        Assert.Equal(((ushort)3, (ushort)2), back.AsyncOperations);
        Assert.Equal(rq.RoleSelections, back.RoleSelections);
        Assert.Equal(rq.PresentationContexts.Select(p => (p.Id, p.AbstractSyntax, string.Join(",", p.TransferSyntaxes))),
            back.PresentationContexts.Select(p => (p.Id, p.AbstractSyntax, string.Join(",", p.TransferSyntaxes))));
    }

    [Fact]
    public void AssociateAccept_RoundTrips_Results()
    {
        var ac = new AssociateAccept { CalledAE = "A", CallingAE = "B", MaxPduLength = 0, ImplementationClassUid = "1.2" };
        ac.PresentationContexts.Add(new PresentationContextAnswer(1, PresentationContextResult.Acceptance, DicomUID.ExplicitVRLittleEndian.UID));
        ac.PresentationContexts.Add(new PresentationContextAnswer(3, PresentationContextResult.AbstractSyntaxNotSupported, ""));
        var back = (AssociateAccept)PduCodec.DecodeAssociate(PduType.AssociateAccept, PduCodec.Encode(ac).AsSpan(6));
        Assert.Equal(ac.PresentationContexts, back.PresentationContexts);
        Assert.Null(back.AsyncOperations);
        Assert.Equal(0u, back.MaxPduLength);
    }

    [Theory]
    [InlineData(0x30, "unknown item type 0x30")]
    [InlineData(0x21, "presentation context item 0x21 in AssociateRequest")]
    public void AssociateRequest_WithAForeignItem_IsAProtocolError(byte itemType, string message)
    {
        var bytes = PduCodec.Encode(RawPeer.Request()).AsSpan(6).ToArray();
        bytes[68] = itemType; // the application context item becomes something else
        var ex = Assert.Throws<DicomProtocolException>(() => PduCodec.DecodeAssociate(PduType.AssociateRequest, bytes));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ShortPdus_EncodeTheirFields()
    {
        Assert.Equal(new byte[] { 3, 0, 0, 0, 0, 4, 0, 2, 3, 2 }, PduCodec.EncodeReject(RejectResult.Transient, RejectSource.ServiceProviderPresentation, RejectReason.LocalLimitExceeded));
        Assert.Equal(new byte[] { 7, 0, 0, 0, 0, 4, 0, 0, 2, 6 }, PduCodec.EncodeAbort(AbortSource.ServiceProvider, AbortReason.InvalidPduParameterValue));
        Assert.Equal((RejectResult.Permanent, RejectSource.ServiceUser, (byte)7), PduCodec.DecodeReject([0, 1, 1, 7]));
        Assert.Throws<DicomProtocolException>(() => PduCodec.DecodeReject([0, 1, 1]));
    }

    [Fact]
    public void CommandSet_RoundTrips_WithItsGroupLength()
    {
        var bytes = DimseCommand.Encode(DimseCommand.StoreRequest(9, DicomUID.CTImageStorage.UID, "1.2.3"));
        // (0000,0000) UL first, implicit VR: tag, length 4, then the length of the rest.
        Assert.Equal(new byte[] { 0, 0, 0, 0, 4, 0, 0, 0 }, bytes[..8]);
        Assert.Equal(bytes.Length - 12, BitConverter.ToInt32(bytes, 8));
        var back = DimseCommand.Decode(bytes);
        Assert.Equal((ushort)9, back.GetSingleValue<ushort>(DicomTag.MessageID));
        Assert.True(DimseCommand.HasDataset(back));
        var rsp = DimseCommand.Response(back, DicomStatus.DuplicateSopInstance, "dup");
        Assert.Equal((ushort)0x8001, DimseCommand.CommandField(rsp));
        Assert.Equal("1.2.3", rsp.GetString(DicomTag.AffectedSOPInstanceUID));
        Assert.Equal(DicomStatus.DuplicateSopInstance, DimseCommand.Status(rsp));
    }

    [Fact]
    public void CommandSet_WithDataElements_IsAProtocolError()
    {
        var command = DimseCommand.EchoRequest(1).AddOrUpdate(DicomTag.PatientID, "X");
        Assert.Throws<DicomProtocolException>(() => DimseCommand.Decode(DimseCommand.Encode(command)));
        Assert.Throws<DicomProtocolException>(() => DimseCommand.Decode([1, 2, 3]));
    }

    [Theory]
    [InlineData(0x0000, DicomStatusCategory.Success)]
    [InlineData(0xB000, DicomStatusCategory.Warning)]
    [InlineData(0xFF00, DicomStatusCategory.Pending)]
    [InlineData(0xA700, DicomStatusCategory.Failure)]
    [InlineData(0x0122, DicomStatusCategory.Failure)]
    public void Status_Categories(ushort code, DicomStatusCategory category) => Assert.Equal(category, new DicomStatus(code).Category);
}
