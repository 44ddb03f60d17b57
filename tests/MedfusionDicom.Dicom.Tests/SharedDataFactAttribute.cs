namespace MedfusionDicom.Dicom.Tests;

/// <summary>A fact that skips, saying why, when ../shared/data is not beside the repository (a user's fresh clone).</summary>
public sealed class SharedDataFactAttribute : FactAttribute
{
    public SharedDataFactAttribute()
    {
        if (DerivedFixtures.SharedGeMr() is null) Skip = "../shared/data/dicom/mr-ge-epi-64 is absent (it is not part of a clone); this test needs that real MR series";
    }
}
