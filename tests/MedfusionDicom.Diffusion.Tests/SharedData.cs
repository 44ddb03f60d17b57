namespace MedfusionDicom.Diffusion.Tests;

/// <summary>Finds ../shared/data relative to the repository root; tests that need it skip when it is absent.</summary>
internal static class SharedData
{
    public static string? Root { get; } = Find();

    private static string? Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MedfusionDicom.sln")))
            {
                var data = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data"));
                return Directory.Exists(data) ? data : null;
            }
        }
        return null;
    }
}

/// <summary>A fact that skips, saying why, when ../shared/data is not there (a user's fresh clone).</summary>
public sealed class SharedDataFactAttribute : FactAttribute
{
    public SharedDataFactAttribute()
    {
        if (SharedData.Root is null) Skip = "../shared/data is absent (it is not part of a clone); this test needs the real images there";
    }
}
