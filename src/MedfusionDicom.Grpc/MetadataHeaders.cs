namespace MedfusionDicom.Grpc;

/// <summary>Maps <see cref="Metadata"/> to HTTP/2 header fields and back; "-bin" values travel as base64.</summary>
internal static class MetadataHeaders
{
    public static IEnumerable<KeyValuePair<string, string>> ToHeaders(Metadata metadata)
    {
        foreach (var entry in metadata)
        {
            if (GrpcProtocol.IsReservedHeader(entry.Key))
            {
                continue;
            }

            yield return new(entry.Key, entry.IsBinary ? Convert.ToBase64String(entry.ValueBytes) : entry.Value);
        }
    }

    /// <summary>
    /// Collects the application's headers. Peers may join repeated fields with commas and may leave out base64 padding;
    /// a value that is not base64 or not ASCII is dropped rather than failing the call.
    /// </summary>
    public static Metadata FromHeaders(IEnumerable<KeyValuePair<string, IEnumerable<string>>> headers)
    {
        var metadata = new Metadata();
        foreach (var (name, values) in headers)
        {
            if (GrpcProtocol.IsReservedHeader(name))
            {
                continue;
            }

            foreach (var value in values)
            {
                TryAdd(metadata, name, value);
            }
        }

        return metadata;
    }

    private static void TryAdd(Metadata metadata, string name, string value)
    {
        try
        {
            if (!Metadata.IsBinaryKey(name))
            {
                metadata.Add(name, value);
                return;
            }

            foreach (var part in value.Split(',', StringSplitOptions.TrimEntries))
            {
                if (TryDecodeBase64(part, out var bytes))
                {
                    metadata.Add(name, bytes);
                }
            }
        }
        catch (ArgumentException)
        {
            // A header name or value that gRPC metadata cannot hold (e.g. upper-case bytes from a proxy): not ours to fail on.
        }
    }

    private static bool TryDecodeBase64(string text, out byte[] bytes)
    {
        var padded = (text.Length % 4) switch
        {
            2 => text + "==",
            3 => text + "=",
            _ => text,
        };
        bytes = new byte[padded.Length / 4 * 3];
        if (Convert.TryFromBase64String(padded, bytes, out var written))
        {
            bytes = bytes[..written];
            return true;
        }

        return false;
    }
}
