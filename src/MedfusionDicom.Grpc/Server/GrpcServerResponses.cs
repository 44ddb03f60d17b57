using Microsoft.AspNetCore.Http;

namespace MedfusionDicom.Grpc.Server;

internal interface IStatusHeaderSink
{
    void Append(string name, string value);
}

/// <summary>Writes grpc-status, the percent-encoded grpc-message and the custom trailers.</summary>
internal static class GrpcServerResponses
{
    public static void SetStatusHeaders(IHeaderDictionary headers, Status status, Metadata trailers) =>
        SetStatusHeaders(new HeaderDictionarySink(headers), status, trailers);

    public static void SetStatusHeaders(IStatusHeaderSink sink, Status status, Metadata trailers)
    {
        sink.Append(GrpcProtocol.StatusHeader, ((int)status.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (!string.IsNullOrEmpty(status.Detail))
        {
            sink.Append(GrpcProtocol.MessageHeader, GrpcProtocol.PercentEncode(status.Detail));
        }

        foreach (var (name, value) in MetadataHeaders.ToHeaders(trailers))
        {
            sink.Append(name, value);
        }
    }

    /// <summary>An immediate error: no messages, the status in the only HEADERS frame.</summary>
    public static Task WriteTrailersOnlyAsync(HttpResponse response, Status status, int httpStatus = StatusCodes.Status200OK)
    {
        response.StatusCode = httpStatus;
        response.ContentType = GrpcProtocol.ContentType;
        response.Headers[GrpcProtocol.AcceptEncodingHeader] = GrpcProtocol.SupportedEncodings;
        SetStatusHeaders(response.Headers, status, new Metadata());
        return response.CompleteAsync();
    }

    private sealed class HeaderDictionarySink(IHeaderDictionary headers) : IStatusHeaderSink
    {
        public void Append(string name, string value) => headers.Append(name, value);
    }
}
