using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace MedfusionDicom.Gateway.Viewer;

/// <summary>
/// The ready-built OHIF app of the npm package @ohif/app (its dist/), as scripts/bootstrap installs it, moved to the
/// path the gateway serves it at. The package is built for the site root: its pages name "/..." and webpack's runtime
/// loads chunks from "/", its style sheet fonts from "/". Those few references are rewritten once into a cache folder; every other file is served from
/// the package as it is.
/// </summary>
public sealed class OhifDistribution
{
    /// <summary>The @ohif/app version that scripts/bootstrap-viewer installs and whose rewrites are known.</summary>
    public const string PinnedVersion = "3.13.2";

    // webpack's public path, as each entry bundle (the app and its web workers) sets it.
    private const string WebpackPublicPath = "__webpack_require__.p = \"/\";";

    private readonly Dictionary<string, string> _relocated;

    private OhifDistribution(string distDirectory, string version, Dictionary<string, string> relocated)
    {
        DistDirectory = distDirectory;
        Version = version;
        _relocated = relocated;
    }

    public string DistDirectory { get; }
    public string Version { get; }

    /// <summary>The repository's viewer/ohif/dist above the executable (or of the current folder), where scripts/bootstrap puts it.</summary>
    public static string InstalledDirectory()
    {
        const string relative = "viewer/ohif/dist";
        if (Directory.Exists(relative)) return Path.GetFullPath(relative);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(Path.Combine(dir.FullName, "MedfusionDicom.sln")) && Directory.Exists(candidate)) return candidate;
        }

        return Path.GetFullPath(relative);
    }

    /// <summary>
    /// Opens the app in <paramref name="distDirectory"/> for serving under <paramref name="basePath"/> ("/viewer"),
    /// writing its relocated files under <paramref name="cacheDirectory"/> unless an earlier start did.
    /// </summary>
    /// <exception cref="ViewerUnavailableException">The folder holds no OHIF build, or one whose references are not where this version puts them.</exception>
    public static async Task<OhifDistribution> OpenAsync(string distDirectory, string basePath, string cacheDirectory, CancellationToken ct)
    {
        var index = Path.Combine(distDirectory, "index.html");
        if (!File.Exists(index))
            throw new ViewerUnavailableException($"no OHIF build at {distDirectory} (run scripts/bootstrap, which installs @ohif/app {PinnedVersion})");
        var version = await ReadVersionAsync(distDirectory, ct).ConfigureAwait(false);

        var prefix = basePath.TrimEnd('/') + "/";
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{Path.GetFullPath(distDirectory)}|{File.GetLastWriteTimeUtc(index):O}|{version}|{prefix}")))[..16];
        var target = Path.Combine(cacheDirectory, key.ToLowerInvariant());
        var relocated = new Dictionary<string, string>(StringComparer.Ordinal);
        var scripts = Directory.EnumerateFiles(distDirectory, "*.js").Select(Path.GetFileName).ToList();

        if (!Directory.Exists(target))
        {
            var staging = target + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
            Directory.CreateDirectory(staging);
            try
            {
                var html = await File.ReadAllTextAsync(index, ct).ConfigureAwait(false);
                var htmlReferences = CountOf(html, "=\"/");
                if (!html.Contains("window.PUBLIC_URL=\"/\"", StringComparison.Ordinal) || htmlReferences == 0)
                    throw new ViewerUnavailableException($"{index} is not an OHIF page built for the site root (OHIF {version}; this gateway knows {PinnedVersion})");
                await File.WriteAllTextAsync(Path.Combine(staging, "index.html"), html.Replace("=\"/", "=\"" + prefix, StringComparison.Ordinal), ct).ConfigureAwait(false);

                var manifest = Path.Combine(distDirectory, "manifest.json");
                if (File.Exists(manifest))
                {
                    var text = await File.ReadAllTextAsync(manifest, ct).ConfigureAwait(false);
                    await File.WriteAllTextAsync(Path.Combine(staging, "manifest.json"), text.Replace("\": \"/", "\": \"" + prefix, StringComparison.Ordinal), ct).ConfigureAwait(false);
                }

                foreach (var css in Directory.EnumerateFiles(distDirectory, "*.css"))
                {
                    var text = await File.ReadAllTextAsync(css, ct).ConfigureAwait(false);
                    if (text.Contains("url(/", StringComparison.Ordinal))
                        await File.WriteAllTextAsync(Path.Combine(staging, Path.GetFileName(css)), text.Replace("url(/", "url(" + prefix, StringComparison.Ordinal), ct).ConfigureAwait(false);
                }

                var entries = 0;
                foreach (var name in scripts)
                {
                    var text = await File.ReadAllTextAsync(Path.Combine(distDirectory, name!), ct).ConfigureAwait(false);
                    if (!text.Contains(WebpackPublicPath, StringComparison.Ordinal)) continue;
                    entries++;
                    await File.WriteAllTextAsync(Path.Combine(staging, name!), text.Replace(WebpackPublicPath, $"__webpack_require__.p = \"{prefix}\";", StringComparison.Ordinal), ct).ConfigureAwait(false);
                }

                if (entries == 0)
                    throw new ViewerUnavailableException($"no bundle in {distDirectory} sets webpack's public path as OHIF {PinnedVersion} does (found OHIF {version})");
                Directory.Move(staging, target);
            }
            catch
            {
                if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
                throw;
            }
        }

        foreach (var file in Directory.EnumerateFiles(target)) relocated[Path.GetFileName(file)] = file;
        return new OhifDistribution(Path.GetFullPath(distDirectory), version, relocated);
    }

    /// <summary>
    /// The file that answers <paramref name="relativePath"/> (below the viewer's base), or null when the app has none.
    /// A path that climbs out of the app (..) has none.
    /// </summary>
    public string? Resolve(string relativePath)
    {
        if (relativePath.Length == 0) relativePath = "index.html";
        if (_relocated.TryGetValue(relativePath, out var moved)) return moved;
        var full = Path.GetFullPath(Path.Combine(DistDirectory, relativePath));
        if (!full.StartsWith(DistDirectory + Path.DirectorySeparatorChar, StringComparison.Ordinal)) return null;
        return File.Exists(full) ? full : null;
    }

    /// <summary>The app's page, which answers every route of OHIF's own (deep links such as /viewer/viewer?StudyInstanceUIDs=...).</summary>
    public string IndexPage => _relocated["index.html"];

    private static async Task<string> ReadVersionAsync(string distDirectory, CancellationToken ct)
    {
        var package = Path.Combine(distDirectory, "..", "package.json");
        if (!File.Exists(package)) return "unknown";
        await using var stream = File.OpenRead(package);
        using var json = await JsonDocument.ParseAsync(stream, cancellationToken: ct).ConfigureAwait(false);
        return json.RootElement.TryGetProperty("version", out var v) ? v.GetString() ?? "unknown" : "unknown";
    }

    private static int CountOf(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + value.Length, StringComparison.Ordinal)) count++;
        return count;
    }
}

/// <summary>The viewer cannot be served: it is not installed, or not a build this gateway knows how to serve.</summary>
public sealed class ViewerUnavailableException(string message) : Exception(message);
