using MedfusionDicom.Dicom;

namespace MedfusionDicom.Gateway.Storage;

/// <summary>
/// Where instances live under the data directory: instances/XX/SOPInstanceUID.dcm, UID-addressed (XX spreads them
/// over 256 folders). Only a valid UID (digits and dots) names a file, so no peer can steer a path.
/// </summary>
public sealed class InstanceFiles(string dataDirectory)
{
    public string Root { get; } = Path.Combine(Path.GetFullPath(dataDirectory), "instances");

    public string PathOf(string sopInstanceUid)
    {
        if (!DicomUID.IsValid(sopInstanceUid)) throw new ArgumentException($"'{sopInstanceUid}' is not a valid UID", nameof(sopInstanceUid));
        // Not string.GetHashCode, which is randomised per process: a file must be found where an earlier process put it.
        var bucket = StableBucket(sopInstanceUid);
        return Path.Combine(Root, bucket.ToString("x2", System.Globalization.CultureInfo.InvariantCulture), sopInstanceUid + ".dcm");
    }

    /// <summary>Writes a file the way received instances are: to a temporary name, flushed to disk, renamed into place.</summary>
    public async Task<long> WriteDurablyAsync(string sopInstanceUid, DicomFile file, CancellationToken ct)
    {
        var path = PathOf(sopInstanceUid);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = Path.Combine(Path.GetDirectoryName(path)!, "." + Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N")[..12] + ".part");
        try
        {
            long size;
            await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await file.SaveAsync(stream, cancellationToken: ct).ConfigureAwait(false);
                await stream.FlushAsync(ct).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
                size = stream.Length;
            }

            File.Move(temp, path, overwrite: true);
            return size;
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    private static uint StableBucket(string uid)
    {
        uint hash = 2166136261;
        foreach (var c in uid) hash = (hash ^ c) * 16777619;
        return hash % 256;
    }
}
