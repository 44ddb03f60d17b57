using System.Buffers.Binary;
using System.Text;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.IO;
using MedfusionDicom.Dicom.Imaging;

namespace MedfusionDicom.Dimse;

/// <summary>
/// Turns a file's dataset into another transfer syntax when the peer does not accept the file's own. Tests swap in
/// their own; <see cref="CodecTranscoder"/> is the real one.
/// </summary>
public interface IDicomTranscoder
{
    bool CanTranscode(DicomTransferSyntax from, DicomTransferSyntax to);

    /// <summary>The file with its dataset in <paramref name="to"/>.</summary>
    DicomFile Transcode(DicomFile file, DicomTransferSyntax to);
}

/// <summary>
/// Transcodes through the core's <see cref="DicomTranscoder"/>: between uncompressed syntaxes always, and from a
/// compressed one whenever the codec registry can decode it (register GDCM's codecs to cover JPEG, JPEG-LS, J2K, RLE).
/// </summary>
public sealed class CodecTranscoder(DicomCodecRegistry registry) : IDicomTranscoder
{
    public static CodecTranscoder Default { get; } = new(DicomCodecRegistry.Default);

    public bool CanTranscode(DicomTransferSyntax from, DicomTransferSyntax to) =>
        !to.IsEncapsulated && (!from.IsEncapsulated || registry.TryGet(from, out _));

    public DicomFile Transcode(DicomFile file, DicomTransferSyntax to)
    {
        if (to.IsEncapsulated) throw new DicomCodecException($"cannot transcode to {to} ({to.UID.UID}): only decoding is supported");
        if (!CanTranscode(file.TransferSyntax, to)) throw new DicomCodecException(DicomCodecRegistry.NoCodecMessage(file.TransferSyntax));
        return DicomTranscoder.Transcode(file, to, registry);
    }
}

/// <summary>
/// What the SCU needs to know of a file before associating: SOP class and instance, transfer syntax, and where its
/// dataset starts, so that the dataset can be sent byte for byte without parsing it. Files without a usable meta
/// group are parsed instead and re-encoded when sent.
/// </summary>
internal sealed record SourceFile(string Path, string SopClassUid, string SopInstanceUid, DicomTransferSyntax TransferSyntax, long DatasetOffset)
{
    /// <summary>-1: the dataset has to be parsed and written (no meta group to skip).</summary>
    public bool IsRaw => DatasetOffset >= 0;

    /// <summary>Throws <see cref="NotDicomFileException"/> for a file that is not DICOM at all, <see cref="DicomException"/> for one that is broken.</summary>
    public static SourceFile Probe(string path)
    {
        string metaClass, metaInstance, ts;
        long offset;
        bool hasPrefix;
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096))
        {
            var head = new byte[Math.Min(fs.Length, 64 * 1024)];
            fs.ReadExactly(head);
            hasPrefix = HasDicmPrefix(head);
            if (!TryMeta(head, head.Length < fs.Length, out metaClass, out metaInstance, out ts, out offset)) offset = -1;
        }
        // The command must name what the dataset says (the meta group can be stale), so read the dataset's first
        // elements: nothing before (0008,0018) can be large, and the file is streamed, not loaded.
        DicomFile file;
        try
        {
            file = DicomFile.Open(path, new DicomReaderOptions { StopBeforeTag = new DicomTag(0x0008, 0x0019), InMemoryFileLimit = 0 });
        }
        catch (DicomReaderException ex) when (!hasPrefix)
        {
            // Without the prefix a file is DICOM only if it parses as a dataset; this one does not (a LICENSE, a README).
            // The message goes with the file's path in its DicomStoreResult, so it does not repeat it.
            throw new NotDicomFileException("not a DICOM file (no DICM prefix, and it does not parse as a dataset)", ex);
        }
        var sopClass = file.Dataset.GetStringOrDefault(DicomTag.SOPClassUID, metaClass);
        var sopInstance = file.Dataset.GetStringOrDefault(DicomTag.SOPInstanceUID, metaInstance);
        if (sopClass.Length == 0 || sopInstance.Length == 0)
            throw new DicomException($"{path}: no SOP Class UID or SOP Instance UID, so it cannot be stored");
        return new SourceFile(path, sopClass, sopInstance, offset >= 0 ? DicomTransferSyntax.Parse(ts) : file.TransferSyntax, offset);
    }

    private static bool HasDicmPrefix(ReadOnlySpan<byte> head) => head.Length >= 132 && head.Slice(128, 4).SequenceEqual("DICM"u8);

    /// <summary>Reads the explicit VR little endian meta group after the 128-byte preamble and "DICM".</summary>
    private static bool TryMeta(ReadOnlySpan<byte> data, bool truncated, out string sopClass, out string sopInstance, out string ts, out long datasetOffset)
    {
        sopClass = sopInstance = ts = "";
        datasetOffset = -1;
        if (!HasDicmPrefix(data)) return false;
        var pos = 132;
        while (pos + 8 <= data.Length && BinaryPrimitives.ReadUInt16LittleEndian(data[pos..]) == 0x0002)
        {
            var element = BinaryPrimitives.ReadUInt16LittleEndian(data[(pos + 2)..]);
            if (!DicomVR.TryParse(data[pos + 4], data[pos + 5], out var vr)) return false;
            int length, valueAt;
            if (vr.HasLongExplicitHeader)
            {
                if (pos + 12 > data.Length) return false;
                var l = BinaryPrimitives.ReadUInt32LittleEndian(data[(pos + 8)..]);
                if (l > int.MaxValue) return false;
                (length, valueAt) = ((int)l, pos + 12);
            }
            else (length, valueAt) = (BinaryPrimitives.ReadUInt16LittleEndian(data[(pos + 6)..]), pos + 8);
            if (valueAt + (long)length > data.Length) return false;
            var text = Encoding.ASCII.GetString(data.Slice(valueAt, length)).TrimEnd('\0', ' ');
            switch (element)
            {
                case 0x0002: sopClass = text; break;
                case 0x0003: sopInstance = text; break;
                case 0x0010: ts = text; break;
            }
            pos = valueAt + length;
        }
        // The loop must have stopped at the first element after the group, not at the end of what was read.
        if (ts.Length == 0 || (truncated && pos + 8 > data.Length)) return false;
        datasetOffset = pos;
        return true;
    }
}

/// <summary>The file is not DICOM at all (as opposed to a DICOM file that is broken); a folder walk skips such files.</summary>
internal sealed class NotDicomFileException(string message, Exception inner) : DicomException(message, inner);
