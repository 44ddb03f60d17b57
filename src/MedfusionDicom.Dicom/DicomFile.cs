using MedfusionDicom.Dicom.IO;

namespace MedfusionDicom.Dicom;

/// <summary>A DICOM Part 10 file: the File Meta Information (group 0002) and the dataset.</summary>
public sealed class DicomFile
{
    public DicomFile(DicomDataset dataset, DicomDataset? fileMetaInfo = null)
    {
        Dataset = dataset;
        FileMetaInfo = fileMetaInfo ?? new DicomDataset();
    }

    public DicomDataset FileMetaInfo { get; }
    public DicomDataset Dataset { get; }
    /// <summary>The path the file was opened from, if any.</summary>
    public string? Path { get; private set; }

    /// <summary>The transfer syntax of the dataset as read (or as it will be written).</summary>
    public DicomTransferSyntax TransferSyntax => Dataset.InternalTransferSyntax;

    public static DicomFile Open(string path, DicomReaderOptions? options = null)
    {
        options ??= DicomReaderOptions.Default;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new DicomException($"{path}: no such file");
            if (info.Length <= options.InMemoryFileLimit)
                return FromBytes(File.ReadAllBytes(path), options, path);
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.SequentialScan);
            var (meta, ds) = DicomReader.ReadFile(new ByteSource(fs, path), options);
            return new DicomFile(ds, meta) { Path = path };
        }
        catch (DicomReaderException ex)
        {
            throw new DicomReaderException($"{path}: {ex.Problem}", ex.Offset, ex.Tag, ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DicomException($"{path}: {ex.Message}", ex);
        }
    }

    public static async Task<DicomFile> OpenAsync(string path, DicomReaderOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= DicomReaderOptions.Default;
        var info = new FileInfo(path);
        if (!info.Exists) throw new DicomException($"{path}: no such file");
        if (info.Length > options.InMemoryFileLimit) return await Task.Run(() => Open(path, options), cancellationToken).ConfigureAwait(false);
        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DicomException($"{path}: {ex.Message}", ex);
        }
        try
        {
            return FromBytes(bytes, options, path);
        }
        catch (DicomReaderException ex)
        {
            throw new DicomReaderException($"{path}: {ex.Problem}", ex.Offset, ex.Tag, ex);
        }
    }

    /// <summary>Reads a file held in memory; values are slices of <paramref name="bytes"/>, which must not change.</summary>
    public static DicomFile Open(byte[] bytes, DicomReaderOptions? options = null) => FromBytes(bytes, options ?? DicomReaderOptions.Default, null);

    public static DicomFile Open(Stream stream, DicomReaderOptions? options = null)
    {
        var (meta, ds) = DicomReader.ReadFile(new ByteSource(stream, (stream as FileStream)?.Name), options ?? DicomReaderOptions.Default);
        return new DicomFile(ds, meta);
    }

    private static DicomFile FromBytes(byte[] bytes, DicomReaderOptions options, string? path)
    {
        var (meta, ds) = DicomReader.ReadFile(new ByteSource(bytes, 0, bytes.Length), options);
        return new DicomFile(ds, meta) { Path = path };
    }

    public void Save(string path, DicomTransferSyntax? syntax = null) => SaveAsync(path, syntax).GetAwaiter().GetResult();

    /// <summary>Writes the file to a temporary name, flushes it to disk, then renames it: a reader never sees half a file.</summary>
    public async Task SaveAsync(string path, DicomTransferSyntax? syntax = null, CancellationToken cancellationToken = default)
    {
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var tmp = System.IO.Path.Combine(dir, "." + System.IO.Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp");
        try
        {
            await using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, FileOptions.Asynchronous))
            {
                await SaveAsync(fs, syntax, cancellationToken).ConfigureAwait(false);
                await fs.FlushAsync(cancellationToken).ConfigureAwait(false);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }

    public void Save(Stream stream, DicomTransferSyntax? syntax = null) => SaveAsync(stream, syntax).GetAwaiter().GetResult();

    public async Task SaveAsync(Stream stream, DicomTransferSyntax? syntax = null, CancellationToken cancellationToken = default)
    {
        syntax ??= Dataset.InternalTransferSyntax;
        var dataset = Dataset;
        if (syntax != Dataset.InternalTransferSyntax)
        {
            if (syntax.IsEncapsulated && Dataset[DicomTag.PixelData] is DicomElement)
                throw new DicomException($"the pixel data is not compressed; it cannot be written as {syntax} without an encoder");
            // Decoding compressed pixels (through the default codec registry) and fixing the pixel VR for big endian
            // are the transcoder's job; it refuses only what it cannot do correctly.
            dataset = Imaging.DicomTranscoder.Transcode(this, syntax).Dataset;
        }
        var meta = BuildMeta(syntax);
        var preamble = new byte[132];
        preamble[128] = (byte)'D';
        preamble[129] = (byte)'I';
        preamble[130] = (byte)'C';
        preamble[131] = (byte)'M';
        await stream.WriteAsync(preamble, cancellationToken).ConfigureAwait(false);
        await stream.WriteAsync(meta, cancellationToken).ConfigureAwait(false);
        await DicomWriter.WriteDatasetAsync(stream, dataset, syntax, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The meta group, encoded: its group length, version, the dataset's SOP class/instance, our implementation.</summary>
    private byte[] BuildMeta(DicomTransferSyntax syntax)
    {
        var meta = new DicomDataset();
        foreach (var item in FileMetaInfo)
            if (item.Tag.Group == 0x0002 && item.Tag.Element != 0) meta.AddOrUpdate(item);
        meta.AddOrUpdate(new DicomElement(DicomTag.FileMetaInformationVersion, DicomVR.OB, new byte[] { 0, 1 }));
        if (Dataset.TryGetString(DicomTag.SOPClassUID, out var sopClass)) meta.AddOrUpdate(DicomTag.MediaStorageSOPClassUID, sopClass);
        if (Dataset.TryGetString(DicomTag.SOPInstanceUID, out var sopInstance)) meta.AddOrUpdate(DicomTag.MediaStorageSOPInstanceUID, sopInstance);
        meta.AddOrUpdate(DicomTag.TransferSyntaxUID, syntax.UID.UID);
        meta.AddOrUpdate(DicomTag.ImplementationClassUID, DicomUID.ImplementationClassUidValue);
        meta.AddOrUpdate(DicomTag.ImplementationVersionName, DicomUID.ImplementationVersionNameValue);
        var body = DicomWriter.Encode(meta, DicomTransferSyntax.ExplicitVRLittleEndian);
        var groupLength = new DicomDataset().AddOrUpdate(DicomTag.FileMetaInformationGroupLength, (uint)body.Length);
        var head = DicomWriter.Encode(groupLength, DicomTransferSyntax.ExplicitVRLittleEndian);
        FileMetaInfo.Clear();
        foreach (var item in meta) FileMetaInfo.AddOrUpdate(item);
        return [.. head, .. body];
    }
}
