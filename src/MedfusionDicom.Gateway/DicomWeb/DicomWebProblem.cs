using Microsoft.AspNetCore.Http;

namespace MedfusionDicom.Gateway.DicomWeb;

/// <summary>An error answer of the DICOMweb routes: the status and one line of plain text that says what was wrong (no internals).</summary>
internal static class DicomWebProblem
{
    public static async Task WriteAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync(message + "\n", context.RequestAborted).ConfigureAwait(false);
    }
}
