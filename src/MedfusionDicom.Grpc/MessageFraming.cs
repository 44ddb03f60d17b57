using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Pipelines;
using System.Runtime.InteropServices;

namespace MedfusionDicom.Grpc;

/// <summary>
/// The gRPC message framing shared by server and client: each message is a 1-byte compressed flag, a 4-byte
/// big-endian length and the (possibly gzip-compressed) protobuf bytes.
/// </summary>
internal static class MessageFraming
{
    /// <summary>Writes one message; a flush is the caller's choice so that a unary reply can leave with its trailers.</summary>
    public static void WriteMessage<T>(PipeWriter output, T message, Marshaller<T> marshaller, bool compress, int maxMessageSize)
    {
        var size = marshaller.CalculateSize(message);
        ThrowIfTooLargeToSend(size, maxMessageSize);
        if (!compress)
        {
            WritePrefix(output, compressed: false, size);
            marshaller.Serialize(message, output);
            return;
        }

        var serialized = new ArrayBufferWriter<byte>(Math.Max(size, 1));
        marshaller.Serialize(message, serialized);
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(serialized.WrittenSpan);
        }

        var compressedLength = checked((int)compressed.Length);
        WritePrefix(output, compressed: true, compressedLength);
        output.Write(compressed.GetBuffer().AsSpan(0, compressedLength));
    }

    /// <summary>
    /// Reads the next message, or reports the end of the stream. The size limit is checked on the prefix, before the
    /// body arrives, so an oversized message is refused without buffering it.
    /// </summary>
    /// <param name="encoding">The stream's grpc-encoding ("gzip"), or null for identity.</param>
    public static async ValueTask<(bool Found, T? Message)> ReadMessageAsync<T>(
        PipeReader input, Marshaller<T> marshaller, string? encoding, int maxMessageSize, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= GrpcProtocol.MessagePrefixLength)
            {
                var (compressed, length) = ReadPrefix(buffer, maxMessageSize);
                var frameLength = GrpcProtocol.MessagePrefixLength + length;
                if (buffer.Length >= frameLength)
                {
                    try
                    {
                        var payload = buffer.Slice(GrpcProtocol.MessagePrefixLength, length);
                        return (true, Deserialize(payload, compressed, marshaller, encoding, maxMessageSize));
                    }
                    finally
                    {
                        input.AdvanceTo(buffer.GetPosition(frameLength));
                    }
                }
            }

            if (result.IsCompleted)
            {
                input.AdvanceTo(buffer.End);
                if (buffer.Length == 0)
                {
                    return (false, default);
                }

                throw new RpcException(StatusCode.Internal, "Incomplete message: the stream ended inside a message.");
            }

            // Everything is examined, so the transport keeps reading (and opening its flow-control window).
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static (bool Compressed, int Length) ReadPrefix(ReadOnlySequence<byte> buffer, int maxMessageSize)
    {
        Span<byte> prefix = stackalloc byte[GrpcProtocol.MessagePrefixLength];
        buffer.Slice(0, GrpcProtocol.MessagePrefixLength).CopyTo(prefix);
        if (prefix[0] > 1)
        {
            throw new RpcException(StatusCode.Internal, $"Invalid compressed flag {prefix[0]} in message prefix.");
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(prefix[1..]);
        if (length > (uint)maxMessageSize)
        {
            throw new RpcException(StatusCode.ResourceExhausted, $"Received message larger than max ({length} vs. {maxMessageSize})");
        }

        return (prefix[0] == 1, (int)length);
    }

    private static T Deserialize<T>(ReadOnlySequence<byte> payload, bool compressed, Marshaller<T> marshaller, string? encoding, int maxMessageSize)
    {
        if (compressed)
        {
            if (encoding is null)
            {
                throw new RpcException(StatusCode.Internal, "A message is compressed but the stream has no grpc-encoding.");
            }

            payload = new ReadOnlySequence<byte>(Decompress(payload, maxMessageSize));
        }

        try
        {
            return marshaller.Deserialize(payload);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw new RpcException(new Status(StatusCode.Internal, "Error deserializing message: " + ex.Message), innerException: ex);
        }
    }

    /// <summary>Inflates with the size limit applied to the output, so a small gzip bomb cannot exhaust memory.</summary>
    private static byte[] Decompress(ReadOnlySequence<byte> compressed, int maxMessageSize)
    {
        var source = compressed.IsSingleSegment && MemoryMarshal.TryGetArray(compressed.First, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(compressed.ToArray(), writable: false);
        try
        {
            using var gzip = new GZipStream(source, CompressionMode.Decompress);
            using var inflated = new MemoryStream();
            var chunk = ArrayPool<byte>.Shared.Rent(81920);
            try
            {
                int read;
                while ((read = gzip.Read(chunk)) > 0)
                {
                    if (inflated.Length + read > maxMessageSize)
                    {
                        throw new RpcException(
                            StatusCode.ResourceExhausted,
                            $"Received message larger than max (more than {maxMessageSize} bytes after decompression)");
                    }

                    inflated.Write(chunk, 0, read);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }

            return inflated.ToArray();
        }
        catch (InvalidDataException ex)
        {
            throw new RpcException(new Status(StatusCode.Internal, "Invalid gzip data in a compressed message."), innerException: ex);
        }
    }

    private static void ThrowIfTooLargeToSend(int size, int maxMessageSize)
    {
        if (size > maxMessageSize)
        {
            throw new RpcException(StatusCode.ResourceExhausted, $"Sending message larger than max ({size} vs. {maxMessageSize})");
        }
    }

    private static void WritePrefix(PipeWriter output, bool compressed, int length)
    {
        var prefix = output.GetSpan(GrpcProtocol.MessagePrefixLength);
        prefix[0] = compressed ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(prefix[1..], (uint)length);
        output.Advance(GrpcProtocol.MessagePrefixLength);
    }
}
