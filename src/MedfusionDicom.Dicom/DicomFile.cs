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

    /// <summary>Writes the file to a temporary name, flushes it to disk, then renames it: a reader never sees half a file.</summary>
    public void Save(string path, DicomTransferSyntax? syntax = null)
    {
        var (dataset, syntaxToWrite) = Prepare(syntax);
        var target = new AtomicFileTarget(path);
        try
        {
            using (var fs = target.Create(FileOptions.None))
            {
                WritePart10(fs, dataset, syntaxToWrite);
                fs.Flush(flushToDisk: true);
            }
            target.Commit();
        }
        catch
        {
            target.Abandon();
            throw;
        }
    }

    /// <inheritdoc cref="Save(string, DicomTransferSyntax?)"/>
    public async Task SaveAsync(string path, DicomTransferSyntax? syntax = null, CancellationToken cancellationToken = default)
    {
        var (dataset, syntaxToWrite) = Prepare(syntax);
        var target = new AtomicFileTarget(path);
        try
        {
            await using (var fs = target.Create(FileOptions.Asynchronous))
            {
                await WritePart10Async(fs, dataset, syntaxToWrite, cancellationToken).ConfigureAwait(false);
                await fs.FlushAsync(cancellationToken).ConfigureAwait(false);
                // No asynchronous fsync exists; this waits for the disk once, at the end.
                fs.Flush(flushToDisk: true);
            }
            target.Commit();
        }
        catch
        {
            target.Abandon();
            throw;
        }
    }

    /// <summary>Writes preamble, meta group and dataset with synchronous I/O. The file itself is not changed.</summary>
    public void Save(Stream stream, DicomTransferSyntax? syntax = null)
    {
        var (dataset, syntaxToWrite) = Prepare(syntax);
        WritePart10(stream, dataset, syntaxToWrite);
    }

    /// <summary>Writes preamble, meta group and dataset with asynchronous I/O. The file itself is not changed.</summary>
    public async Task SaveAsync(Stream stream, DicomTransferSyntax? syntax = null, CancellationToken cancellationToken = default)
    {
        var (dataset, syntaxToWrite) = Prepare(syntax);
        await WritePart10Async(stream, dataset, syntaxToWrite, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The File Meta Information that saving in <paramref name="syntax"/> writes: this file's own group 0002 elements,
    /// with version, Media Storage SOP class/instance (from the dataset), transfer syntax and our implementation set.
    /// A new dataset: <see cref="FileMetaInfo"/> is not changed (saving never rewrites it behind the caller's back).
    /// </summary>
    public DicomDataset CreateFileMetaInfo(DicomTransferSyntax syntax)
    {
        ArgumentNullException.ThrowIfNull(syntax);
        var meta = new DicomDataset();
        foreach (var item in FileMetaInfo)
            if (item.Tag.Group == 0x0002 && item.Tag.Element != 0) meta.AddOrUpdate(item);
        meta.AddOrUpdate(new DicomElement(DicomTag.FileMetaInformationVersion, DicomVR.OB, new byte[] { 0, 1 }));
        if (Dataset.TryGetString(DicomTag.SOPClassUID, out var sopClass)) meta.AddOrUpdate(DicomTag.MediaStorageSOPClassUID, sopClass);
        if (Dataset.TryGetString(DicomTag.SOPInstanceUID, out var sopInstance)) meta.AddOrUpdate(DicomTag.MediaStorageSOPInstanceUID, sopInstance);
        meta.AddOrUpdate(DicomTag.TransferSyntaxUID, syntax.UID.UID);
        meta.AddOrUpdate(DicomTag.ImplementationClassUID, DicomUID.ImplementationClassUidValue);
        meta.AddOrUpdate(DicomTag.ImplementationVersionName, DicomUID.ImplementationVersionNameValue);
        return meta;
    }

    /// <summary>What will be written: the dataset, transcoded when the syntax changes, and the syntax itself.</summary>
    private (DicomDataset Dataset, DicomTransferSyntax Syntax) Prepare(DicomTransferSyntax? syntax)
    {
        syntax ??= Dataset.InternalTransferSyntax;
        if (syntax == Dataset.InternalTransferSyntax) return (Dataset, syntax);
        if (syntax.IsEncapsulated && Dataset[DicomTag.PixelData] is DicomElement)
            throw new DicomException($"the pixel data is not compressed; it cannot be written as {syntax} without an encoder");
        // Decoding compressed pixels (through the default codec registry) and fixing the pixel VR for big endian
        // are the transcoder's job; it refuses only what it cannot do correctly.
        return (Imaging.DicomTranscoder.Transcode(this, syntax).Dataset, syntax);
    }

    private void WritePart10(Stream stream, DicomDataset dataset, DicomTransferSyntax syntax)
    {
        stream.Write(Part10Head(syntax));
        DicomWriter.WriteDataset(stream, dataset, syntax);
    }

    private async Task WritePart10Async(Stream stream, DicomDataset dataset, DicomTransferSyntax syntax, CancellationToken ct)
    {
        await stream.WriteAsync(Part10Head(syntax), ct).ConfigureAwait(false);
        await DicomWriter.WriteDatasetAsync(stream, dataset, syntax, ct).ConfigureAwait(false);
    }

    /// <summary>The 128-byte preamble, "DICM", and the meta group with its group length, encoded.</summary>
    private byte[] Part10Head(DicomTransferSyntax syntax)
    {
        var body = DicomWriter.Encode(CreateFileMetaInfo(syntax), DicomTransferSyntax.ExplicitVRLittleEndian);
        var groupLength = new DicomDataset().AddOrUpdate(DicomTag.FileMetaInformationGroupLength, (uint)body.Length);
        var head = DicomWriter.Encode(groupLength, DicomTransferSyntax.ExplicitVRLittleEndian);
        var bytes = new byte[PreambleLength + head.Length + body.Length];
        "DICM"u8.CopyTo(bytes.AsSpan(128));
        head.CopyTo(bytes.AsSpan(PreambleLength));
        body.CopyTo(bytes.AsSpan(PreambleLength + head.Length));
        return bytes;
    }

    private const int PreambleLength = 132;

    /// <summary>A temporary file beside the target, renamed over it once complete, deleted if anything failed.</summary>
    private sealed class AtomicFileTarget
    {
        private readonly string _path;
        private readonly string _temporary;

        public AtomicFileTarget(string path)
        {
            _path = path;
            var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
            Directory.CreateDirectory(dir);
            _temporary = System.IO.Path.Combine(dir, "." + System.IO.Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp");
        }

        public FileStream Create(FileOptions options) => new(_temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, options);

        public void Commit() => File.Move(_temporary, _path, overwrite: true);

        public void Abandon()
        {
            try
            {
                File.Delete(_temporary);
            }
            catch (IOException)
            {
                // Best effort: the original error is the one that matters.
            }
        }
    }
}
