using System.Buffers.Binary;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.IO;

namespace MedfusionDicom.Dimse;

public enum DicomStatusCategory
{
    Success,
    Warning,
    Pending,
    Cancel,
    Failure,
}

/// <summary>A DIMSE status code (PS3.7 Annex C) and what it means for the caller.</summary>
public readonly record struct DicomStatus(ushort Code)
{
    public static readonly DicomStatus Success = new(0x0000);
    public static readonly DicomStatus ProcessingFailure = new(0x0110);
    public static readonly DicomStatus DuplicateSopInstance = new(0x0111);
    public static readonly DicomStatus SopClassNotSupported = new(0x0122);
    public static readonly DicomStatus UnrecognizedOperation = new(0x0211);
    public static readonly DicomStatus OutOfResources = new(0xA700);
    public static readonly DicomStatus DataSetDoesNotMatchSopClass = new(0xA900);
    public static readonly DicomStatus CannotUnderstand = new(0xC000);
    public static readonly DicomStatus CoercionOfDataElements = new(0xB000);

    public DicomStatusCategory Category => Code switch
    {
        0x0000 => DicomStatusCategory.Success,
        0x0001 or 0x0107 or 0x0116 or (>= 0xB000 and <= 0xBFFF) => DicomStatusCategory.Warning,
        0xFF00 or 0xFF01 => DicomStatusCategory.Pending,
        0xFE00 => DicomStatusCategory.Cancel,
        _ => DicomStatusCategory.Failure,
    };

    public bool IsSuccess => Category == DicomStatusCategory.Success;
    public bool IsFailure => Category == DicomStatusCategory.Failure;

    public override string ToString() => $"{Code:X4}";
}

/// <summary>
/// Encodes flat datasets of plain elements (command sets, file meta groups) straight into one exact-size array. These
/// are encoded once or twice per instance, and the general dataset writer's streaming buffers are sized for whole
/// datasets, which made them the largest allocation of the store path.
/// </summary>
internal static class FlatEncoder
{
    /// <summary>The group length element (UL) followed by the items, in little endian.</summary>
    public static byte[] WithGroupLength(DicomTag groupLength, DicomDataset items, bool explicitVr)
    {
        var bodyLength = 0;
        foreach (var item in items) bodyLength += HeaderLength(Plain(item).ValueRepresentation, explicitVr) + Padded(Plain(item).Length);
        var headLength = HeaderLength(DicomVR.UL, explicitVr) + 4;
        var bytes = new byte[headLength + bodyLength];
        var span = bytes.AsSpan();
        var at = Header(span, groupLength, DicomVR.UL, 4, explicitVr);
        BinaryPrimitives.WriteUInt32LittleEndian(span[at..], (uint)bodyLength);
        at += 4;
        foreach (var item in items)
        {
            var e = Plain(item);
            var value = e.Buffer.Memory.Span;
            at += Header(span[at..], e.Tag, e.ValueRepresentation, Padded(value.Length), explicitVr);
            value.CopyTo(span[at..]);
            if ((value.Length & 1) == 1) span[at + value.Length] = e.ValueRepresentation.PaddingByte;
            at += Padded(value.Length);
        }
        return bytes;
    }

    private static DicomElement Plain(DicomItem item) =>
        item as DicomElement ?? throw new DicomException($"{item.Tag} is not a plain element; only flat datasets are encoded here");

    private static int Padded(long length) => (int)((length + 1) & ~1L);

    private static int HeaderLength(DicomVR vr, bool explicitVr) => !explicitVr ? 8 : vr.HasLongExplicitHeader ? 12 : 8;

    private static int Header(Span<byte> span, DicomTag tag, DicomVR vr, int length, bool explicitVr)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(span, tag.Group);
        BinaryPrimitives.WriteUInt16LittleEndian(span[2..], tag.Element);
        if (!explicitVr)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(span[4..], (uint)length);
            return 8;
        }
        span[4] = (byte)vr.Code[0];
        span[5] = (byte)vr.Code[1];
        if (!vr.HasLongExplicitHeader)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(span[6..], (ushort)length);
            return 8;
        }
        span[6] = span[7] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], (uint)length);
        return 12;
    }
}

/// <summary>DIMSE command sets (PS3.7 §9.3, §E): always Implicit VR Little Endian, with their group length first.</summary>
internal static class DimseCommand
{
    public const ushort CStoreRequest = 0x0001;
    public const ushort CStoreResponse = 0x8001;
    public const ushort CEchoRequest = 0x0030;
    public const ushort CEchoResponse = 0x8030;
    /// <summary>Command Data Set Type meaning "no dataset follows"; any other value means one does.</summary>
    public const ushort NoDataSet = 0x0101;
    private const ushort HasDataSet = 0x0000;

    public static DicomDataset StoreRequest(ushort messageId, string sopClass, string sopInstance) =>
        new DicomDataset()
            .AddOrUpdate(DicomTag.AffectedSOPClassUID, sopClass)
            .AddOrUpdate(DicomTag.CommandField, CStoreRequest)
            .AddOrUpdate(DicomTag.MessageID, messageId)
            .AddOrUpdate(DicomTag.Priority, (ushort)0)
            .AddOrUpdate(DicomTag.CommandDataSetType, HasDataSet)
            .AddOrUpdate(DicomTag.AffectedSOPInstanceUID, sopInstance);

    public static DicomDataset EchoRequest(ushort messageId) =>
        new DicomDataset()
            .AddOrUpdate(DicomTag.AffectedSOPClassUID, DicomUID.Verification.UID)
            .AddOrUpdate(DicomTag.CommandField, CEchoRequest)
            .AddOrUpdate(DicomTag.MessageID, messageId)
            .AddOrUpdate(DicomTag.CommandDataSetType, NoDataSet);

    /// <summary>The response to <paramref name="request"/>: same SOP class/instance, the request's command bit set.</summary>
    public static DicomDataset Response(DicomDataset request, DicomStatus status, string? errorComment = null)
    {
        var rsp = new DicomDataset();
        if (request.TryGetString(DicomTag.AffectedSOPClassUID, out var cls)) rsp.AddOrUpdate(DicomTag.AffectedSOPClassUID, cls);
        rsp.AddOrUpdate(DicomTag.CommandField, (ushort)(CommandField(request) | 0x8000));
        rsp.AddOrUpdate(DicomTag.MessageIDBeingRespondedTo, MessageId(request));
        rsp.AddOrUpdate(DicomTag.CommandDataSetType, NoDataSet);
        rsp.AddOrUpdate(DicomTag.Status, status.Code);
        if (request.TryGetString(DicomTag.AffectedSOPInstanceUID, out var inst)) rsp.AddOrUpdate(DicomTag.AffectedSOPInstanceUID, inst);
        if (errorComment is { Length: > 0 })
            rsp.AddOrUpdate(DicomTag.ErrorComment, errorComment.Length > 64 ? errorComment[..64] : errorComment);
        return rsp;
    }

    /// <summary>0 (no such command, answered 0211) when the peer's Command Field is absent or malformed.</summary>
    public static ushort CommandField(DicomDataset command) => PeerValue(command, DicomTag.CommandField, (ushort)0);

    public static bool HasDataset(DicomDataset command) => PeerValue(command, DicomTag.CommandDataSetType, NoDataSet) != NoDataSet;

    /// <summary>0 when the peer's Message ID is absent or malformed: the response still goes out, with that id.</summary>
    public static ushort MessageId(DicomDataset command) => PeerValue(command, DicomTag.MessageID, (ushort)0);

    public static ushort MessageIdBeingRespondedTo(DicomDataset response) => PeerValue(response, DicomTag.MessageIDBeingRespondedTo, (ushort)0);

    /// <summary>FFFF (a failure) when the peer's Status is absent or malformed.</summary>
    public static DicomStatus Status(DicomDataset response) => new(PeerValue(response, DicomTag.Status, (ushort)0xFFFF));

    /// <summary>
    /// A US field of a command set a peer sent. The dataset getters throw for a present but malformed value (right for
    /// pixel descriptions); a peer's malformed command field must instead end in a DIMSE status answered on the
    /// association (0211 for an unknown command, a failure status), so here it reads as the fallback.
    /// </summary>
    private static ushort PeerValue(DicomDataset command, DicomTag tag, ushort fallback)
    {
        try
        {
            return command.GetSingleValueOrDefault(tag, fallback);
        }
        catch (DicomValueException)
        {
            return fallback;
        }
    }

    public static byte[] Encode(DicomDataset command)
    {
        command.Remove(DicomTag.CommandGroupLength);
        return FlatEncoder.WithGroupLength(DicomTag.CommandGroupLength, command, explicitVr: false);
    }

    /// <summary>Parses a command set; anything that is not one becomes a protocol error (the association is aborted).</summary>
    public static DicomDataset Decode(byte[] bytes)
    {
        DicomDataset command;
        try
        {
            command = DicomReader.ReadDataset(bytes, DicomTransferSyntax.ImplicitVRLittleEndian);
        }
        catch (DicomException ex)
        {
            throw new DicomProtocolException("command set cannot be parsed: " + ex.Message, AbortReason.InvalidPduParameterValue);
        }
        foreach (var item in command)
            if (item.Tag.Group != 0x0000) throw new DicomProtocolException($"command set holds {item.Tag}, outside group 0000");
        if (!command.Contains(DicomTag.CommandField)) throw new DicomProtocolException("command set has no Command Field (0000,0100)");
        return command;
    }
}
