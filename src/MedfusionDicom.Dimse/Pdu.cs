using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using MedfusionDicom.Dicom;

namespace MedfusionDicom.Dimse;

/// <summary>The seven PDU types of the DICOM upper layer (PS3.8 §9.3).</summary>
public enum PduType : byte
{
    AssociateRequest = 0x01,
    AssociateAccept = 0x02,
    AssociateReject = 0x03,
    DataTransfer = 0x04,
    ReleaseRequest = 0x05,
    ReleaseResponse = 0x06,
    Abort = 0x07,
}

/// <summary>A-ABORT source (PS3.8 Table 9-26).</summary>
public enum AbortSource : byte
{
    ServiceUser = 0,
    ServiceProvider = 2,
}

/// <summary>A-ABORT reason when the source is the service provider (PS3.8 Table 9-26).</summary>
public enum AbortReason : byte
{
    NotSpecified = 0,
    UnrecognizedPdu = 1,
    UnexpectedPdu = 2,
    UnrecognizedPduParameter = 4,
    UnexpectedPduParameter = 5,
    InvalidPduParameterValue = 6,
}

/// <summary>A-ASSOCIATE-RJ result (PS3.8 Table 9-21).</summary>
public enum RejectResult : byte
{
    Permanent = 1,
    Transient = 2,
}

/// <summary>A-ASSOCIATE-RJ source: service user (1), ACSE provider (2), presentation provider (3).</summary>
public enum RejectSource : byte
{
    ServiceUser = 1,
    ServiceProviderAcse = 2,
    ServiceProviderPresentation = 3,
}

/// <summary>
/// A-ASSOCIATE-RJ reason; the meaning depends on the source, so the values repeat (PS3.8 Table 9-21):
/// user: 1 no reason, 2 application context not supported, 3 calling AE not recognized, 7 called AE not recognized;
/// ACSE: 1 no reason, 2 protocol version not supported; presentation: 1 temporary congestion, 2 local limit exceeded.
/// </summary>
public enum RejectReason : byte
{
    NoReasonGiven = 1,
    ApplicationContextNameNotSupported = 2,
    CallingAENotRecognized = 3,
    CalledAENotRecognized = 7,
    ProtocolVersionNotSupported = 2,
    TemporaryCongestion = 1,
    LocalLimitExceeded = 2,
}

/// <summary>Result of one presentation context in an A-ASSOCIATE-AC (PS3.8 Table 9-18).</summary>
public enum PresentationContextResult : byte
{
    Acceptance = 0,
    UserRejection = 1,
    NoReason = 2,
    AbstractSyntaxNotSupported = 3,
    TransferSyntaxesNotSupported = 4,
}

/// <summary>A presentation context as proposed: an abstract syntax and the transfer syntaxes the requestor offers.</summary>
public sealed record PresentationContextProposal(byte Id, string AbstractSyntax, IReadOnlyList<string> TransferSyntaxes);

/// <summary>A presentation context as answered; <see cref="TransferSyntax"/> is meaningful only when accepted.</summary>
public sealed record PresentationContextAnswer(byte Id, PresentationContextResult Result, string TransferSyntax);

/// <summary>SCP/SCU role selection sub-item (PS3.7 §D.3.3.4).</summary>
public sealed record RoleSelection(string SopClassUid, bool ScuRole, bool ScpRole);

/// <summary>The fields A-ASSOCIATE-RQ and -AC share: AE titles, application context and user information.</summary>
public abstract class AssociateMessage
{
    public const string DicomApplicationContext = "1.2.840.10008.3.1.1.1";

    public ushort ProtocolVersion { get; set; } = 1;
    public string CalledAE { get; set; } = "";
    public string CallingAE { get; set; } = "";
    public string ApplicationContextName { get; set; } = DicomApplicationContext;
    /// <summary>Largest P-DATA-TF variable field the sender of this PDU can receive; 0 means no limit.</summary>
    public uint MaxPduLength { get; set; }
    public string ImplementationClassUid { get; set; } = "";
    public string ImplementationVersionName { get; set; } = "";
    /// <summary>Asynchronous operations window (invoked, performed); null when the sub-item is absent.</summary>
    public (ushort Invoked, ushort Performed)? AsyncOperations { get; set; }
    public List<RoleSelection> RoleSelections { get; } = [];
}

public sealed class AssociateRequest : AssociateMessage
{
    public List<PresentationContextProposal> PresentationContexts { get; } = [];
}

public sealed class AssociateAccept : AssociateMessage
{
    public List<PresentationContextAnswer> PresentationContexts { get; } = [];
}

/// <summary>A malformed or unexpected PDU: the association ends with an A-ABORT carrying <see cref="Reason"/>.</summary>
public sealed class DicomProtocolException(string message, AbortReason reason = AbortReason.InvalidPduParameterValue)
    : DicomException(message)
{
    public AbortReason Reason { get; } = reason;
}

/// <summary>Encodes and decodes PDUs (PS3.8 §9.3). Decoding checks every length against what is actually there.</summary>
internal static class PduCodec
{
    public const int HeaderLength = 6;
    private const byte ItemApplicationContext = 0x10;
    private const byte ItemPresentationContextRq = 0x20;
    private const byte ItemPresentationContextAc = 0x21;
    private const byte SubItemAbstractSyntax = 0x30;
    private const byte SubItemTransferSyntax = 0x40;
    private const byte ItemUserInformation = 0x50;
    private const byte UserMaxLength = 0x51;
    private const byte UserImplementationClass = 0x52;
    private const byte UserAsyncWindow = 0x53;
    private const byte UserRoleSelection = 0x54;
    private const byte UserImplementationVersion = 0x55;

    // ---- encoding ----

    public static byte[] Encode(AssociateMessage message)
    {
        var w = new ArrayBufferWriter<byte>(512);
        var type = message is AssociateRequest ? PduType.AssociateRequest : PduType.AssociateAccept;
        var lengthAt = BeginPdu(w, type);
        U16(w, message.ProtocolVersion);
        U16(w, 0);
        FixedAscii(w, message.CalledAE, 16);
        FixedAscii(w, message.CallingAE, 16);
        w.Write(new byte[32]);
        StringItem(w, ItemApplicationContext, message.ApplicationContextName);
        if (message is AssociateRequest rq)
        {
            foreach (var pc in rq.PresentationContexts)
            {
                var at = BeginItem(w, ItemPresentationContextRq);
                w.Write<byte>([pc.Id, 0, 0, 0]);
                StringItem(w, SubItemAbstractSyntax, pc.AbstractSyntax);
                foreach (var ts in pc.TransferSyntaxes) StringItem(w, SubItemTransferSyntax, ts);
                EndItem(w, at);
            }
        }
        else
        {
            foreach (var pc in ((AssociateAccept)message).PresentationContexts)
            {
                var at = BeginItem(w, ItemPresentationContextAc);
                w.Write<byte>([pc.Id, 0, (byte)pc.Result, 0]);
                StringItem(w, SubItemTransferSyntax, pc.TransferSyntax);
                EndItem(w, at);
            }
        }
        var user = BeginItem(w, ItemUserInformation);
        var max = BeginItem(w, UserMaxLength);
        U32(w, message.MaxPduLength);
        EndItem(w, max);
        StringItem(w, UserImplementationClass, message.ImplementationClassUid);
        if (message.AsyncOperations is { } ops)
        {
            var at = BeginItem(w, UserAsyncWindow);
            U16(w, ops.Invoked);
            U16(w, ops.Performed);
            EndItem(w, at);
        }
        foreach (var role in message.RoleSelections)
        {
            var at = BeginItem(w, UserRoleSelection);
            var uid = Encoding.ASCII.GetBytes(role.SopClassUid);
            U16(w, (ushort)uid.Length);
            w.Write(uid);
            w.Write<byte>([(byte)(role.ScuRole ? 1 : 0), (byte)(role.ScpRole ? 1 : 0)]);
            EndItem(w, at);
        }
        if (message.ImplementationVersionName.Length > 0) StringItem(w, UserImplementationVersion, message.ImplementationVersionName);
        EndItem(w, user);
        return EndPdu(w, lengthAt);
    }

    public static byte[] EncodeReject(RejectResult result, RejectSource source, RejectReason reason) =>
        Short(PduType.AssociateReject, [0, (byte)result, (byte)source, (byte)reason]);

    public static byte[] EncodeAbort(AbortSource source, AbortReason reason) => Short(PduType.Abort, [0, 0, (byte)source, (byte)reason]);

    public static byte[] EncodeReleaseRequest() => Short(PduType.ReleaseRequest, [0, 0, 0, 0]);

    public static byte[] EncodeReleaseResponse() => Short(PduType.ReleaseResponse, [0, 0, 0, 0]);

    private static byte[] Short(PduType type, byte[] body)
    {
        var pdu = new byte[HeaderLength + body.Length];
        pdu[0] = (byte)type;
        BinaryPrimitives.WriteUInt32BigEndian(pdu.AsSpan(2), (uint)body.Length);
        body.CopyTo(pdu, HeaderLength);
        return pdu;
    }

    /// <summary>Writes a P-DATA-TF header and one PDV header in front of <paramref name="dataLength"/> bytes of data.</summary>
    public static void WriteDataHeaders(Span<byte> dst, int dataLength, byte contextId, bool command, bool last)
    {
        dst[0] = (byte)PduType.DataTransfer;
        dst[1] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(dst[2..], (uint)(dataLength + 6));
        BinaryPrimitives.WriteUInt32BigEndian(dst[6..], (uint)(dataLength + 2));
        dst[10] = contextId;
        dst[11] = (byte)((command ? 1 : 0) | (last ? 2 : 0));
    }

    private static int BeginPdu(ArrayBufferWriter<byte> w, PduType type)
    {
        w.Write<byte>([(byte)type, 0]);
        var at = w.WrittenCount;
        U32(w, 0);
        return at;
    }

    private static byte[] EndPdu(ArrayBufferWriter<byte> w, int lengthAt)
    {
        var bytes = w.WrittenSpan.ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(lengthAt), (uint)(bytes.Length - lengthAt - 4));
        return bytes;
    }

    private static int BeginItem(ArrayBufferWriter<byte> w, byte type)
    {
        w.Write<byte>([type, 0]);
        var at = w.WrittenCount;
        U16(w, 0);
        return at;
    }

    /// <summary>Patches an item's 16-bit length once its content is written (ArrayBufferWriter's memory is stable until it grows).</summary>
    private static void EndItem(ArrayBufferWriter<byte> w, int lengthAt)
    {
        var length = w.WrittenCount - lengthAt - 2;
        if (length > ushort.MaxValue) throw new DicomException("a PDU item is longer than 65535 bytes");
        var span = System.Runtime.InteropServices.MemoryMarshal.AsMemory(w.WrittenMemory).Span;
        BinaryPrimitives.WriteUInt16BigEndian(span[lengthAt..], (ushort)length);
    }

    private static void StringItem(ArrayBufferWriter<byte> w, byte type, string value)
    {
        var at = BeginItem(w, type);
        w.Write(Encoding.ASCII.GetBytes(value));
        EndItem(w, at);
    }

    private static void FixedAscii(ArrayBufferWriter<byte> w, string value, int size)
    {
        var field = new byte[size];
        field.AsSpan().Fill((byte)' ');
        Encoding.ASCII.GetBytes(value.AsSpan(0, Math.Min(size, value.Length)), field);
        w.Write(field);
    }

    private static void U16(ArrayBufferWriter<byte> w, ushort v)
    {
        BinaryPrimitives.WriteUInt16BigEndian(w.GetSpan(2), v);
        w.Advance(2);
    }

    private static void U32(ArrayBufferWriter<byte> w, uint v)
    {
        BinaryPrimitives.WriteUInt32BigEndian(w.GetSpan(4), v);
        w.Advance(4);
    }

    // ---- decoding ----

    /// <summary>Decodes the body (after the 6-byte header) of an A-ASSOCIATE-RQ or -AC.</summary>
    public static AssociateMessage DecodeAssociate(PduType type, ReadOnlySpan<byte> body)
    {
        if (body.Length < 68) throw new DicomProtocolException($"{type} of {body.Length} bytes is shorter than its 68-byte fixed part");
        AssociateMessage message = type == PduType.AssociateRequest ? new AssociateRequest() : new AssociateAccept();
        message.ProtocolVersion = BinaryPrimitives.ReadUInt16BigEndian(body);
        message.CalledAE = AeTitle(body.Slice(4, 16));
        message.CallingAE = AeTitle(body.Slice(20, 16));
        var sawContext = false;
        foreach (var (itemType, value) in Items(body[68..], "A-ASSOCIATE item"))
        {
            switch (itemType)
            {
                case ItemApplicationContext:
                    message.ApplicationContextName = Uid(value);
                    sawContext = true;
                    break;
                case ItemPresentationContextRq when message is AssociateRequest rq:
                    rq.PresentationContexts.Add(DecodeProposal(value));
                    break;
                case ItemPresentationContextAc when message is AssociateAccept ac:
                    ac.PresentationContexts.Add(DecodeAnswer(value));
                    break;
                case ItemUserInformation:
                    DecodeUserInformation(message, value);
                    break;
                case ItemPresentationContextRq or ItemPresentationContextAc:
                    throw new DicomProtocolException($"presentation context item 0x{itemType:X2} in {type}", AbortReason.UnexpectedPduParameter);
                default:
                    throw new DicomProtocolException($"unknown item type 0x{itemType:X2} in {type}", AbortReason.UnrecognizedPduParameter);
            }
        }
        if (!sawContext) throw new DicomProtocolException($"{type} has no application context item");
        return message;
    }

    private static PresentationContextProposal DecodeProposal(ReadOnlySpan<byte> value)
    {
        if (value.Length < 4) throw new DicomProtocolException("presentation context item shorter than 4 bytes");
        string? abstractSyntax = null;
        var syntaxes = new List<string>();
        foreach (var (subType, sub) in Items(value[4..], "presentation context sub-item"))
        {
            if (subType == SubItemAbstractSyntax)
            {
                if (abstractSyntax is not null) throw new DicomProtocolException("presentation context with two abstract syntaxes");
                abstractSyntax = Uid(sub);
            }
            else if (subType == SubItemTransferSyntax) syntaxes.Add(Uid(sub));
            else throw new DicomProtocolException($"unknown presentation context sub-item 0x{subType:X2}", AbortReason.UnrecognizedPduParameter);
        }
        if (abstractSyntax is null || syntaxes.Count == 0)
            throw new DicomProtocolException($"presentation context {value[0]} lacks its abstract syntax or transfer syntaxes");
        return new PresentationContextProposal(value[0], abstractSyntax, syntaxes);
    }

    private static PresentationContextAnswer DecodeAnswer(ReadOnlySpan<byte> value)
    {
        if (value.Length < 4) throw new DicomProtocolException("presentation context item shorter than 4 bytes");
        var ts = "";
        foreach (var (subType, sub) in Items(value[4..], "presentation context sub-item"))
            if (subType == SubItemTransferSyntax) ts = Uid(sub);
        if (value[2] > 4) throw new DicomProtocolException($"presentation context result {value[2]} is not defined");
        return new PresentationContextAnswer(value[0], (PresentationContextResult)value[2], ts);
    }

    private static void DecodeUserInformation(AssociateMessage message, ReadOnlySpan<byte> value)
    {
        foreach (var (subType, sub) in Items(value, "user information sub-item"))
        {
            switch (subType)
            {
                case UserMaxLength:
                    if (sub.Length != 4) throw new DicomProtocolException($"maximum length sub-item of {sub.Length} bytes");
                    message.MaxPduLength = BinaryPrimitives.ReadUInt32BigEndian(sub);
                    break;
                case UserImplementationClass:
                    message.ImplementationClassUid = Uid(sub);
                    break;
                case UserImplementationVersion:
                    message.ImplementationVersionName = Uid(sub);
                    break;
                case UserAsyncWindow:
                    if (sub.Length != 4) throw new DicomProtocolException($"asynchronous operations window sub-item of {sub.Length} bytes");
                    message.AsyncOperations = (BinaryPrimitives.ReadUInt16BigEndian(sub), BinaryPrimitives.ReadUInt16BigEndian(sub[2..]));
                    break;
                case UserRoleSelection:
                    if (sub.Length < 2) throw new DicomProtocolException("role selection sub-item too short");
                    var uidLength = BinaryPrimitives.ReadUInt16BigEndian(sub);
                    if (sub.Length != 2 + uidLength + 2) throw new DicomProtocolException("role selection sub-item length does not match its UID length");
                    message.RoleSelections.Add(new RoleSelection(Uid(sub.AsSpan(2, uidLength)), sub[2 + uidLength] == 1, sub[3 + uidLength] == 1));
                    break;
                default:
                    // Extended negotiation, user identity and the like: optional, and we offer nothing for them.
                    break;
            }
        }
    }

    /// <summary>Splits a run of items (type, reserved, 16-bit length, value), checking each length against the input.</summary>
    private static List<(byte Type, byte[] Value)> Items(ReadOnlySpan<byte> data, string what)
    {
        var items = new List<(byte, byte[])>();
        while (data.Length > 0)
        {
            if (data.Length < 4) throw new DicomProtocolException($"{what} header truncated ({data.Length} bytes left)");
            var length = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
            if (length > data.Length - 4) throw new DicomProtocolException($"{what} 0x{data[0]:X2} claims {length} bytes but {data.Length - 4} remain");
            items.Add((data[0], data.Slice(4, length).ToArray()));
            data = data[(4 + length)..];
        }
        return items;
    }

    public static (RejectResult Result, RejectSource Source, byte Reason) DecodeReject(ReadOnlySpan<byte> body)
    {
        if (body.Length != 4) throw new DicomProtocolException($"A-ASSOCIATE-RJ of {body.Length} bytes (4 expected)");
        return ((RejectResult)body[1], (RejectSource)body[2], body[3]);
    }

    public static (AbortSource Source, AbortReason Reason) DecodeAbort(ReadOnlySpan<byte> body) =>
        body.Length >= 4 ? ((AbortSource)body[2], (AbortReason)body[3]) : (AbortSource.ServiceUser, AbortReason.NotSpecified);

    private static string AeTitle(ReadOnlySpan<byte> field) => Encoding.ASCII.GetString(field).Trim(' ', '\0');

    private static string Uid(ReadOnlySpan<byte> value) => Encoding.ASCII.GetString(value).TrimEnd('\0', ' ');
}
