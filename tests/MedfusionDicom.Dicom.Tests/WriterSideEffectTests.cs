using MedfusionDicom.Dicom.IO;

namespace MedfusionDicom.Dicom.Tests;

/// <summary>
/// The synchronous and asynchronous writers: same bytes, each using only its own kind of I/O, and neither changing
/// the file or dataset it writes. Getters do not change the structure either.
/// </summary>
public class WriterSideEffectTests
{
    /// <summary>Collects what is written; the kind of I/O it refuses is decided by the subclass.</summary>
    private abstract class RecordingStream : Stream
    {
        private readonly MemoryStream _data = new();

        public byte[] ToArray() => _data.ToArray();

        protected void Record(ReadOnlySpan<byte> bytes) => _data.Write(bytes);

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>Fails any synchronous write or flush: what an async writer must never call.</summary>
    private sealed class AsyncOnlyStream : RecordingStream
    {
        public override void Write(byte[] buffer, int offset, int count) => throw new InvalidOperationException("synchronous Write");
        public override void Write(ReadOnlySpan<byte> buffer) => throw new InvalidOperationException("synchronous Write");
        public override void WriteByte(byte value) => throw new InvalidOperationException("synchronous WriteByte");
        public override void Flush() => throw new InvalidOperationException("synchronous Flush");

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Record(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Record(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>Fails any asynchronous write: what the sync writer must never call (blocking on it would be sync-over-async).</summary>
    private sealed class SyncOnlyStream : RecordingStream
    {
        public override void Write(byte[] buffer, int offset, int count) => Record(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer) => Record(buffer);
        public override void Flush() { }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("asynchronous WriteAsync");
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("asynchronous WriteAsync");
        public override Task FlushAsync(CancellationToken cancellationToken) => throw new InvalidOperationException("asynchronous FlushAsync");
    }

    /// <summary>Every path of the writer: small and streamed values of odd length, fragments, a sequence, values left in their file.</summary>
    private static DicomFile SampleOnDisk(string dir, bool encapsulated)
    {
        var ds = ReadWriteTests.Sample();
        ds.AddOrUpdate(new DicomElement(DicomTag.PatientComments, DicomVR.LT, "odd"u8.ToArray()));
        ds.AddOrUpdate(new DicomElement(new DicomTag(0x0009, 0x1010), DicomVR.OB, Enumerable.Range(0, 70_001).Select(i => (byte)i).ToArray()));
        ds.AddOrUpdate(new DicomElement(DicomTag.PixelData, DicomVR.OW, Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7)).ToArray()));
        if (encapsulated)
        {
            ds.InternalTransferSyntax = DicomTransferSyntax.RLELossless;
            ds.AddOrUpdate(new DicomFragmentSequence(DicomTag.PixelData, DicomVR.OB, MemoryByteBuffer.Empty,
                [new MemoryByteBuffer(new byte[] { 1, 2, 3 }), new MemoryByteBuffer(Enumerable.Range(0, 90_001).Select(i => (byte)i).ToArray())]));
        }
        var path = Path.Combine(dir, "sample.dcm");
        new DicomFile(ds).Save(path);
        // Nothing in memory: values of 64 KiB and more stay in the file and are streamed from it when written.
        return DicomFile.Open(path, new DicomReaderOptions { InMemoryFileLimit = 0 });
    }

    public static TheoryData<string> Syntaxes => new(DicomTransferSyntax.Uncompressed.Select(t => t.UID.UID));

    [Theory]
    [MemberData(nameof(Syntaxes))]
    public async Task Sync_and_async_writers_write_the_same_bytes_each_with_its_own_IO_only(string syntaxUid)
    {
        var syntax = DicomTransferSyntax.Parse(syntaxUid);
        var dir = Directory.CreateTempSubdirectory("writer-");
        try
        {
            var file = SampleOnDisk(dir.FullName, encapsulated: false);
            var sync = new SyncOnlyStream();
            DicomWriter.WriteDataset(sync, file.Dataset, syntax);
            var async = new AsyncOnlyStream();
            await DicomWriter.WriteDatasetAsync(async, file.Dataset, syntax);
            Assert.Equal(sync.ToArray(), async.ToArray());
            var back = DicomReader.ReadDataset(sync.ToArray(), syntax);
            Assert.Equal(file.Dataset.GetBuffer(DicomTag.PixelData).Memory.ToArray(), back.GetBuffer(DicomTag.PixelData).Memory.ToArray());
            Assert.Equal(70_001, back.GetElement(new DicomTag(0x0009, 0x1010)).Length - 1); // padded to even length
            Assert.Equal("odd", back.GetString(DicomTag.PatientComments));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Encapsulated_fragments_of_odd_length_are_written_alike_by_both_writers()
    {
        var dir = Directory.CreateTempSubdirectory("writer-");
        try
        {
            var file = SampleOnDisk(dir.FullName, encapsulated: true);
            var sync = new SyncOnlyStream();
            file.Save(sync);
            var async = new AsyncOnlyStream();
            await file.SaveAsync(async);
            Assert.Equal(sync.ToArray(), async.ToArray());
            var back = DicomFile.Open(sync.ToArray());
            var fragments = Assert.IsType<DicomFragmentSequence>(back.Dataset[DicomTag.PixelData]).Fragments;
            Assert.Equal([4L, 90_002L], fragments.Select(f => f.Size));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Saving_does_not_rewrite_the_files_meta_information()
    {
        var file = new DicomFile(ReadWriteTests.Sample(), new DicomDataset().AddOrUpdate(DicomTag.SourceApplicationEntityTitle, "SENDER"));
        var before = file.FileMetaInfo.Select(i => i.Tag).ToArray();
        await file.SaveAsync(new MemoryStream(), DicomTransferSyntax.ImplicitVRLittleEndian);
        file.Save(new MemoryStream(), DicomTransferSyntax.ExplicitVRBigEndian);
        Assert.Equal(before, file.FileMetaInfo.Select(i => i.Tag));
        Assert.False(file.FileMetaInfo.Contains(DicomTag.TransferSyntaxUID));
        Assert.Equal(DicomTransferSyntax.ExplicitVRLittleEndian, file.Dataset.InternalTransferSyntax);

        // What saving writes is available without saving, as a new dataset.
        var meta = file.CreateFileMetaInfo(DicomTransferSyntax.ImplicitVRLittleEndian);
        Assert.Equal(DicomUID.ImplicitVRLittleEndian.UID, meta.GetString(DicomTag.TransferSyntaxUID));
        Assert.Equal("SENDER", meta.GetString(DicomTag.SourceApplicationEntityTitle));
        Assert.Equal(file.Dataset.GetString(DicomTag.SOPInstanceUID), meta.GetString(DicomTag.MediaStorageSOPInstanceUID));
        Assert.False(file.FileMetaInfo.Contains(DicomTag.TransferSyntaxUID));
    }

    [Fact]
    public async Task Save_to_a_path_sync_and_async_write_the_same_file_and_leave_no_temporary()
    {
        var dir = Directory.CreateTempSubdirectory("save-");
        try
        {
            var file = new DicomFile(ReadWriteTests.Sample());
            file.Save(Path.Combine(dir.FullName, "a.dcm"), DicomTransferSyntax.DeflatedExplicitVRLittleEndian);
            await file.SaveAsync(Path.Combine(dir.FullName, "b.dcm"), DicomTransferSyntax.DeflatedExplicitVRLittleEndian);
            Assert.Equal(File.ReadAllBytes(Path.Combine(dir.FullName, "a.dcm")), File.ReadAllBytes(Path.Combine(dir.FullName, "b.dcm")));
            Assert.Equal(["a.dcm", "b.dcm"], dir.GetFiles().Select(f => f.Name).Order());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Getting_a_sequence_does_not_change_the_parent_links()
    {
        var item = new DicomDataset();
        var sequence = new DicomSequence(DicomTag.ReferencedSeriesSequence, item);
        var first = new DicomDataset().AddOrUpdate(sequence);
        var second = new DicomDataset().AddOrUpdate(sequence);
        Assert.Same(second, item.Parent);
        first.GetSequence(DicomTag.ReferencedSeriesSequence);
        Assert.True(first.TryGetSequence(DicomTag.ReferencedSeriesSequence, out _));
        Assert.Same(second, item.Parent);
    }

    [Fact]
    public void Items_read_from_a_file_or_added_later_inherit_the_character_set_without_a_getter()
    {
        // Sample() is ISO_IR 100; Latin-1 bytes in a nested item decode right only through the parent's character set.
        var sample = ReadWriteTests.Sample();
        sample.GetSequence(DicomTag.ReferencedImageSequence).Items[1].AddOrUpdate(DicomTag.ImageComments, "Lungenröntgen");
        var read = DicomFile.Open(Save(new DicomFile(sample)));
        var sequence = Assert.IsType<DicomSequence>(read.Dataset[DicomTag.ReferencedImageSequence]);
        Assert.Equal("Lungenröntgen", sequence.Items[1].GetString(DicomTag.ImageComments));

        var later = new DicomDataset();
        sequence.Items.Add(later);
        Assert.Same(read.Dataset, later.Parent);
        Assert.Equal("ISO_IR 100", later.CharacterSet.Terms[0]);
    }

    private static byte[] Save(DicomFile file)
    {
        using var ms = new MemoryStream();
        file.Save(ms);
        return ms.ToArray();
    }
}
