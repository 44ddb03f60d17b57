namespace MedfusionDicom.Worker.Models;

/// <summary>Where the demo models that ship with the repository are, for a worker (or a gateway's embedded one) given no folder.</summary>
public static class BundledModels
{
    /// <summary>models/ of the current folder, else the repository's models/ above the executable.</summary>
    public static string Folder()
    {
        if (Directory.Exists("models")) return Path.GetFullPath("models");
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "models");
            if (File.Exists(Path.Combine(dir.FullName, "MedfusionDicom.sln")) && Directory.Exists(candidate)) return candidate;
        }

        return Path.GetFullPath("models");
    }
}
