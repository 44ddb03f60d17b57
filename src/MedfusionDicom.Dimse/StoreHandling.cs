using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.IO;

namespace MedfusionDicom.Dimse;

/// <summary>A C-STORE request as the command announced it, before its dataset arrives.</summary>
public sealed record DicomStoreRequest(
    DicomAssociationInfo Association,
    string SopClassUid,
    string SopInstanceUid,
    DicomTransferSyntax TransferSyntax,
    ushort MessageId);

/// <summary>Where an instance is to be written, or the status that refuses it.</summary>
public readonly record struct DicomStoreDecision(string? Path, DicomStatus Status, string? Comment)
{
    public static DicomStoreDecision Accept(string path) => new(path, DicomStatus.Success, null);
    public static DicomStoreDecision Reject(DicomStatus status, string? comment = null) => new(null, status, comment);
}

/// <summary>An instance durably written as a Part 10 file at <see cref="Path"/>.</summary>
/// <param name="Header">The dataset up to (not including) Pixel Data, as stored.</param>
/// <param name="DatasetBytes">Bytes of the dataset as received (the file adds the preamble and meta group).</param>
/// <param name="Journaled">
/// The instance was made durable through the store journal, whose record stays until the handler returns: what the
/// handler writes without a sync of its own becomes durable with the journal's next checkpoint, and the application
/// finds the instance in <see cref="DicomStoreJournal.JournaledPaths"/> after a power loss before that. False: the
/// file was fdatasync'ed in place, and the handler must make its own writes durable.
/// </param>
public sealed record DicomStoredInstance(DicomStoreRequest Request, string Path, DicomDataset Header, long DatasetBytes, TimeSpan Elapsed, bool Journaled = false);

/// <summary>
/// What the C-STORE SCP asks of the application. The SCP streams the dataset to a temporary file next to the chosen
/// path, checks it, fsyncs it, renames it into place, and only then calls <see cref="InstanceStoredAsync"/>; the
/// status that returns is the one the SCU receives. An IOException becomes A700; any other exception is taken as a bug:
/// logged with its stack trace and answered 0110 (Processing failure), and the SCP goes on serving.
/// </summary>
public interface IDicomStoreHandler
{
    /// <summary>Decides from the request alone whether to take the instance (e.g. 0111 for duplicates, A700 when full) and where it goes.</summary>
    ValueTask<DicomStoreDecision> BeginStoreAsync(DicomStoreRequest request, CancellationToken cancellationToken);

    /// <summary>The instance is on disk at its final path and flushed; the answer to the SCU is the status returned.</summary>
    ValueTask<DicomStatus> InstanceStoredAsync(DicomStoredInstance instance, CancellationToken cancellationToken);
}

/// <summary>Stores every instance as DIRECTORY/SOPInstanceUID.dcm; the standalone SCP of the CLI uses it.</summary>
public sealed class DicomFileStoreHandler : IDicomStoreHandler
{
    public DicomFileStoreHandler(string directory)
    {
        Directory.CreateDirectory(directory);
        RootDirectory = System.IO.Path.GetFullPath(directory);
        _freeSpace = new FreeSpaceProbe(RootDirectory);
    }

    private readonly FreeSpaceProbe _freeSpace;

    public string RootDirectory { get; }
    /// <summary>Answer 0111 for an instance whose file already exists instead of replacing it.</summary>
    public bool RejectDuplicates { get; init; }
    /// <summary>Below this much free space on the target file system, instances are refused with A700.</summary>
    public long MinimumFreeBytes { get; init; } = 64L * 1024 * 1024;

    public ValueTask<DicomStoreDecision> BeginStoreAsync(DicomStoreRequest request, CancellationToken cancellationToken)
    {
        // The UID names the file: only a valid UID (digits and dots) can, so no peer can steer the path.
        if (!DicomUID.IsValid(request.SopInstanceUid))
            return ValueTask.FromResult(DicomStoreDecision.Reject(DicomStatus.CannotUnderstand, "invalid SOP Instance UID"));
        var path = System.IO.Path.Combine(RootDirectory, request.SopInstanceUid + ".dcm");
        if (RejectDuplicates && File.Exists(path))
            return ValueTask.FromResult(DicomStoreDecision.Reject(DicomStatus.DuplicateSopInstance, "duplicate SOP instance"));
        if (_freeSpace.FreeBytes() < MinimumFreeBytes)
            return ValueTask.FromResult(DicomStoreDecision.Reject(DicomStatus.OutOfResources, "storage nearly full"));
        return ValueTask.FromResult(DicomStoreDecision.Accept(path));
    }

    public ValueTask<DicomStatus> InstanceStoredAsync(DicomStoredInstance instance, CancellationToken cancellationToken) =>
        ValueTask.FromResult(DicomStatus.Success);
}

/// <summary>An instance failed a check after it was received; carries the status to answer.</summary>
internal sealed class StoreRefusedException(DicomStatus status, string message) : Exception(message)
{
    public DicomStatus Status { get; } = status;
}

/// <summary>
/// One instance being received: the Part 10 preamble and meta group, then the dataset bytes exactly as they arrive,
/// go to a hidden temporary file beside the target; <see cref="CommitAsync"/> checks, fsyncs and renames it.
/// Disposing without committing deletes the temporary file, so nothing half-written is ever left behind.
/// </summary>
internal sealed class IncomingInstance : IDisposable
{
    private const long SmallInstance = 256 * 1024;
    private readonly FileStream _file;
    private readonly string _tempPath;
    private readonly long _headerLength;
    private bool _committed;
    private bool _syncDirectory;
    private DicomStoreJournal? _journal;
    private (DicomStoreJournal Journal, DicomStoreJournal.Ticket Ticket)? _heldRecord;

    /// <summary>Whether the instance went through the journal (its file's durability then rests on the journal's checkpoint).</summary>
    public bool Journaled => _heldRecord is not null;

    /// <summary>Lets the journal checkpoint the instance's record; called once the store handler has returned.</summary>
    public void ReleaseJournalRecord()
    {
        if (_heldRecord is not { } held) return;
        _heldRecord = null;
        held.Journal.Completed(held.Ticket);
    }

    private IncomingInstance(string finalPath, string tempPath, FileStream file, long headerLength)
    {
        FinalPath = finalPath;
        _tempPath = tempPath;
        _file = file;
        _headerLength = headerLength;
    }

    public string FinalPath { get; }
    /// <summary>Dataset bytes received so far (fixed once committed).</summary>
    public long DatasetBytes => _committed ? _committedBytes : _file.Position - _headerLength;
    private long _committedBytes;

    /// <param name="syncDirectory">Also fsync the directory after the rename (see <see cref="DicomServerOptions.SyncDirectory"/>).</param>
    /// <param name="journal">Makes small instances durable through the journal instead of an fdatasync of their own file.</param>
    public static IncomingInstance Create(string finalPath, string sopClass, string sopInstance, DicomTransferSyntax syntax, string sourceAe,
        bool syncDirectory, DicomStoreJournal? journal = null)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(finalPath))!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, "." + Path.GetFileName(finalPath) + "." + Guid.NewGuid().ToString("N")[..12] + ".part");
        // Unbuffered: PDVs arrive in chunks of kilobytes already, and a per-instance buffer would be garbage to collect.
        var file = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 0, FileOptions.None);
        try
        {
            var header = Part10Header(sopClass, sopInstance, syntax, sourceAe);
            file.Write(header);
            return new IncomingInstance(finalPath, temp, file, header.Length) { _syncDirectory = syncDirectory, _journal = journal };
        }
        catch
        {
            file.Dispose();
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Preamble, "DICM" and the meta group (PS3.10 §7.1) for a dataset received over the network.</summary>
    internal static byte[] Part10Header(string sopClass, string sopInstance, DicomTransferSyntax syntax, string sourceAe)
    {
        var meta = new DicomDataset()
            .AddOrUpdate(new DicomElement(DicomTag.FileMetaInformationVersion, DicomVR.OB, new byte[] { 0, 1 }))
            .AddOrUpdate(DicomTag.MediaStorageSOPClassUID, sopClass)
            .AddOrUpdate(DicomTag.MediaStorageSOPInstanceUID, sopInstance)
            .AddOrUpdate(DicomTag.TransferSyntaxUID, syntax.UID.UID)
            .AddOrUpdate(DicomTag.ImplementationClassUID, DicomUID.ImplementationClassUidValue)
            .AddOrUpdate(DicomTag.ImplementationVersionName, DicomUID.ImplementationVersionNameValue);
        if (sourceAe.Length is > 0 and <= 16) meta.AddOrUpdate(DicomTag.SourceApplicationEntityTitle, sourceAe);
        var group = FlatEncoder.WithGroupLength(DicomTag.FileMetaInformationGroupLength, meta, explicitVr: true);
        var header = new byte[132 + group.Length];
        "DICM"u8.CopyTo(header.AsSpan(128));
        group.CopyTo(header, 132);
        return header;
    }

    /// <summary>
    /// Appends received bytes. Deliberately synchronous: a write lands in the page cache and returns in microseconds,
    /// whereas the async API of a non-overlapped file hops to the thread pool for every PDV; the wait that can block,
    /// the fdatasync, happens once, in <see cref="CommitAsync"/>.
    /// </summary>
    public void Write(ReadOnlySpan<byte> data) => _file.Write(data);

    /// <summary>
    /// Reads the header back and checks it names the SOP class and instance the command announced (A900 if not,
    /// C000 if it cannot be parsed), then makes the instance durable. Through the journal (small instances): append
    /// the whole file to it and sync that, then rename the file into place. Otherwise: fdatasync the file (the data
    /// and what is needed to read it back), rename it into place, and optionally fsync the directory.
    /// </summary>
    public async Task<DicomDataset> CommitAsync(string sopClass, string sopInstance, CancellationToken ct)
    {
        await _file.FlushAsync(ct).ConfigureAwait(false);
        var (header, whole) = ReadHeader();
        var actualClass = header.GetStringOrDefault(DicomTag.SOPClassUID);
        var actualInstance = header.GetStringOrDefault(DicomTag.SOPInstanceUID);
        if (actualClass != sopClass || actualInstance != sopInstance)
            throw new StoreRefusedException(DicomStatus.DataSetDoesNotMatchSopClass,
                $"dataset names SOP class '{actualClass}' instance '{actualInstance}', the command '{sopClass}' '{sopInstance}'");
        _committedBytes = DatasetBytes;
        if (_journal is { } journal && whole is not null && whole.Length <= journal.MaxInstanceBytes)
        {
            var ticket = journal.Append(FinalPath, whole);
            try
            {
                await _file.DisposeAsync().ConfigureAwait(false);
                File.Move(_tempPath, FinalPath, overwrite: true);
                _committed = true;
            }
            catch
            {
                journal.Completed(ticket);
                throw;
            }

            // Held until the store handler is done with the instance (ReleaseJournalRecord): the checkpoint that
            // discards the record then also makes durable what the handler wrote.
            _heldRecord = (journal, ticket);
            return header;
        }
        SyncData(_file);
        await _file.DisposeAsync().ConfigureAwait(false);
        File.Move(_tempPath, FinalPath, overwrite: true);
        _committed = true;
        if (_syncDirectory) NativeFile.SyncDirectory(Path.GetDirectoryName(FinalPath)!);
        _journal?.Supersede(FinalPath);
        return header;
    }

    /// <summary>The dataset up to Pixel Data; and, for a small instance, the whole file's bytes (read anyway).</summary>
    private (DicomDataset Header, byte[]? Whole) ReadHeader()
    {
        _file.Position = 0;
        try
        {
            // Values are loaded (not left lazily on the temporary path, which is about to be renamed); pixel data is not read.
            var options = new DicomReaderOptions { StopBeforeTag = DicomTag.PixelData, LazyValueThreshold = long.MaxValue, InMemoryFileLimit = 0 };
            if (_file.Length > SmallInstance) return (DicomFile.Open(_file, options).Dataset, null);
            // A small instance is read whole: one exact-size array whose slices become the values, instead of a read
            // window plus a copy per value.
            var bytes = new byte[_file.Length];
            _file.ReadExactly(bytes);
            return (DicomFile.Open(bytes, options).Dataset, bytes);
        }
        catch (DicomException ex)
        {
            throw new StoreRefusedException(DicomStatus.CannotUnderstand, "dataset cannot be parsed: " + ex.Message);
        }
        finally
        {
            _file.Position = _file.Length;
        }
    }

    private static void SyncData(FileStream file)
    {
        if (OperatingSystem.IsWindows()) file.Flush(flushToDisk: true);
        else NativeFile.DataSync(file.SafeFileHandle, file.Name);
    }

    public void Dispose()
    {
        ReleaseJournalRecord();
        if (_committed) return;
        _file.Dispose();
        try
        {
            File.Delete(_tempPath);
        }
        catch (IOException)
        {
            // Nothing more can be done; the name's leading dot and .part suffix mark it as debris.
        }
    }
}
