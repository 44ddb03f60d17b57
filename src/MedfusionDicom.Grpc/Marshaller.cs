using System.Buffers;
using Google.Protobuf;

namespace MedfusionDicom.Grpc;

/// <summary>
/// Turns messages into bytes and back. Sizing first lets the framing write the length prefix and then serialize
/// straight into the transport's buffers, with no intermediate copy of large (16 MiB+) messages.
/// </summary>
public sealed class Marshaller<T>(
    Func<T, int> calculateSize,
    Action<T, IBufferWriter<byte>> serialize,
    Func<ReadOnlySequence<byte>, T> deserialize)
{
    public int CalculateSize(T message) => calculateSize(message);

    public void Serialize(T message, IBufferWriter<byte> output) => serialize(message, output);

    public T Deserialize(ReadOnlySequence<byte> payload) => deserialize(payload);
}

public static class Marshallers
{
    /// <summary>A marshaller for a protobuf message type, e.g. <c>Marshallers.Create(Image.Parser)</c>.</summary>
    public static Marshaller<T> Create<T>(MessageParser<T> parser)
        where T : IMessage<T> =>
        new(message => message.CalculateSize(), (message, output) => message.WriteTo(output), parser.ParseFrom);
}
