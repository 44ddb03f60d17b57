using MedfusionDicom.Dicom;
using Microsoft.Net.Http.Headers;

namespace MedfusionDicom.Gateway.DicomWeb;

/// <summary>What a frame request gets: the media type of each part, the transfer syntax it names, and whether the stored frame is decoded.</summary>
internal sealed record FrameAnswer(string MediaType, string? TransferSyntax, bool Decode);

/// <summary>
/// The media types of frames (PS3.18 §8.7.3.5, Table 8.7.3-5) and the negotiation of a frame request's Accept against
/// how an instance is stored. Native frames go as application/octet-stream. A compressed frame goes as stored when its
/// media type is asked for, or application/octet-stream with transfer-syntax=*; otherwise it is decoded to
/// application/octet-stream (Explicit VR Little Endian), which is what a plain request gets.
/// </summary>
internal static class FrameMediaTypes
{
    private const string OctetStream = "application/octet-stream";

    private static readonly Dictionary<string, string> ByTransferSyntax = new(StringComparer.Ordinal)
    {
        [DicomTransferSyntax.JPEGBaseline8Bit.UID.UID] = "image/jpeg",
        [DicomTransferSyntax.JPEGExtended12Bit.UID.UID] = "image/jpeg",
        [DicomTransferSyntax.JPEGLossless.UID.UID] = "image/jpeg",
        [DicomTransferSyntax.JPEGLosslessSV1.UID.UID] = "image/jpeg",
        [DicomTransferSyntax.JPEGLSLossless.UID.UID] = "image/jls",
        [DicomTransferSyntax.JPEGLSNearLossless.UID.UID] = "image/jls",
        [DicomTransferSyntax.JPEG2000Lossless.UID.UID] = "image/jp2",
        [DicomTransferSyntax.JPEG2000.UID.UID] = "image/jp2",
        [DicomTransferSyntax.RLELossless.UID.UID] = "image/dicom-rle",
    };

    /// <summary>The media type of frames stored in <paramref name="transferSyntax"/>; octet-stream for native ones.</summary>
    public static string Of(DicomTransferSyntax transferSyntax) => ByTransferSyntax.GetValueOrDefault(transferSyntax.UID.UID, OctetStream);

    /// <summary>The first acceptable answer for an Accept header, in its order; null when none can be given (406).</summary>
    public static FrameAnswer? Negotiate(string accept, DicomTransferSyntax stored, bool encapsulated)
    {
        var native = DicomTransferSyntax.ExplicitVRLittleEndian.UID.UID;
        if (accept.Trim().Length == 0) return new FrameAnswer(OctetStream, encapsulated ? native : null, encapsulated);
        foreach (var item in accept.Split(','))
        {
            if (!MediaTypeHeaderValue.TryParse(item.Trim(), out var media)) continue;
            string? Param(string name) => media.Parameters.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))?.Value.Value?.Trim('"');
            var outer = media.MediaType.Value;
            var type = outer == "multipart/related" ? Param("type") ?? OctetStream : outer;
            var syntax = Param("transfer-syntax");
            if (type is "*/*" or "multipart/*" or "application/*" && syntax is null) type = OctetStream;

            if (!encapsulated)
            {
                if (type == OctetStream && syntax is null or "*" || syntax == native) return new FrameAnswer(OctetStream, null, false);
                continue;
            }

            var storedType = Of(stored);
            if (syntax == "*" || (type == storedType && (syntax is null || syntax == stored.UID.UID)))
                return new FrameAnswer(type == storedType ? storedType : OctetStream, stored.UID.UID, false);
            if (type == OctetStream && (syntax is null || syntax == native)) return new FrameAnswer(OctetStream, native, true);
        }

        return null;
    }
}
