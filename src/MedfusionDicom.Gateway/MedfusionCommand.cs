namespace MedfusionDicom.Gateway;

/// <summary>
/// How this process runs another `medfusion` verb as a child (the worker, a cohort): the apphost itself, or
/// `dotnet medfusion.dll`. Only a gateway started as `medfusion gateway` knows; a host of another program (a test
/// host) does not, and says so.
/// </summary>
public static class MedfusionCommand
{
    /// <summary>The executable and the arguments before the verb, or null when this process is not `medfusion`.</summary>
    public static (string FileName, string[] Arguments)? Self()
    {
        var entry = System.Reflection.Assembly.GetEntryAssembly();
        var path = Environment.ProcessPath;
        if (path is null || entry?.GetName().Name != "medfusion") return null;
        return Path.GetFileNameWithoutExtension(path) == "dotnet" ? (path, [entry.Location]) : (path, []);
    }

    /// <summary>
    /// A start of `medfusion VERB ARGS...` at the Linux nice value <paramref name="niceness"/> for every thread it will
    /// have (through coreutils' nice, so that threads made before any of our code runs are nice too).
    /// </summary>
    public static System.Diagnostics.ProcessStartInfo StartInfo(string verb, IEnumerable<string> arguments, int niceness)
    {
        var (file, before) = Self() ?? throw new GatewayConfigurationException(
            $"`medfusion {verb}` as a child process needs the gateway to run as `medfusion gateway` (this process is {System.Reflection.Assembly.GetEntryAssembly()?.GetName().Name ?? "unknown"})");
        var niced = niceness > 0 && OperatingSystem.IsLinux() && File.Exists("/usr/bin/nice");
        var start = new System.Diagnostics.ProcessStartInfo(niced ? "/usr/bin/nice" : file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (niced)
        {
            start.ArgumentList.Add("-n");
            start.ArgumentList.Add(niceness.ToString(System.Globalization.CultureInfo.InvariantCulture));
            start.ArgumentList.Add(file);
        }
        foreach (var a in before.Append(verb).Concat(arguments)) start.ArgumentList.Add(a);
        // The gateway's own settings are not the child's business.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MEDFUSION_Gateway__", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(key);
        return start;
    }
}
