namespace MedfusionDicom.Dicom;

/// <summary>Base of every error the DICOM toolkit raises for bad input or misuse.</summary>
public class DicomException : Exception
{
    public DicomException(string message) : base(message) { }
    public DicomException(string message, Exception? inner) : base(message, inner) { }
}

/// <summary>The input is not valid DICOM; says where (byte offset, and the tag being read when known).</summary>
public class DicomReaderException : DicomException
{
    public DicomReaderException(string problem, long offset, DicomTag? tag = null, Exception? inner = null)
        : base(Describe(problem, offset, tag), inner)
    {
        Problem = problem;
        Offset = offset;
        Tag = tag;
    }

    public string Problem { get; }
    public long Offset { get; }
    public DicomTag? Tag { get; }

    private static string Describe(string problem, long offset, DicomTag? tag) =>
        tag is { } t ? $"{problem} (element {t} {t.DictionaryEntry.Keyword}, byte offset {offset})" : $"{problem} (byte offset {offset})";
}

/// <summary>A value could not be converted to or from the element's VR.</summary>
public class DicomValueException : DicomException
{
    public DicomValueException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>Pixel data could not be decoded or encoded.</summary>
public class DicomCodecException : DicomException
{
    public DicomCodecException(string message, Exception? inner = null) : base(message, inner) { }
}
