using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MedfusionDicom.Gateway.Storage;

namespace MedfusionDicom.Gateway.DicomWeb;

/// <summary>
/// Series metadata (the DICOM JSON that WADO-RS /metadata answers for a series) kept on disk, so that a viewer opening a
/// large series again is served one file instead of reading every instance. An entry is named by the series and a
/// version of what it was built from: each instance's SOP Instance UID, file, size and time received, and the service's
/// root URL that the BulkDataURIs carry. A series that gains, loses or replaces an instance has another version, so it is
/// built afresh on its next request and the old entry is deleted; nothing needs to be told when a series changes.
/// Entries are written to a temporary file and renamed, so a crash never leaves half an entry to be served.
/// </summary>
public sealed class SeriesMetadataCache(string directory)
{
    public string Directory { get; } = directory;

    /// <summary>Where the entry for this state of the series is (or will be).</summary>
    public string PathOf(string seriesUid, IReadOnlyList<InstanceRecord> instances, string root)
    {
        var version = new StringBuilder(root).Append('\n');
        foreach (var i in instances.OrderBy(i => i.SopInstanceUid, StringComparer.Ordinal))
            version.Append(CultureInfo.InvariantCulture, $"{i.SopInstanceUid}|{i.Path}|{i.Size}|{i.ReceivedAtMs}\n");
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(version.ToString())))[..16];
        return Path.Combine(Directory, $"{seriesUid}.{hash}.json");
    }

    /// <summary>
    /// The entry at <paramref name="path"/>, built by <paramref name="write"/> when it is not there yet; older entries of
    /// the series are deleted once the new one is in place.
    /// </summary>
    public async Task<string> GetOrBuildAsync(string seriesUid, string path, Func<Stream, CancellationToken, Task> write, CancellationToken ct)
    {
        if (File.Exists(path)) return path;
        System.IO.Directory.CreateDirectory(Directory);
        var temp = Path.Combine(Directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.part");
        try
        {
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
                await write(file, ct).ConfigureAwait(false);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }

        foreach (var old in System.IO.Directory.EnumerateFiles(Directory, seriesUid + ".*.json"))
        {
            // "1.2.3.*.json" also matches series 1.2.3.4's entries: an entry of this series has no dot between its UID and ".json".
            var name = Path.GetFileName(old);
            if (old != path && !name[(seriesUid.Length + 1)..^".json".Length].Contains('.')) File.Delete(old);
        }
        return path;
    }
}
