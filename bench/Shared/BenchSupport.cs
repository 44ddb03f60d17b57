using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

/// <summary>What every benchmark program needs; compiled into each through &lt;Compile Include&gt;.</summary>
internal static class BenchSupport
{
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MedfusionDicom.sln"))) return dir.FullName;
        throw new InvalidOperationException("run from inside the repository");
    }

    public static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]) : "?";

    public static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>A peer process with its output captured; TCP_NODELAY=1 is dcmtk's Nagle switch (without it storescp waits on delayed ACKs).</summary>
    public static ProcessStartInfo StartInfo(string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["TCP_NODELAY"] = "1";
        return psi;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Debian's Orthanc on loopback with a temporary configuration under <paramref name="work"/>; <paramref name="modalities"/>
    /// names the peers (AE title, port on 127.0.0.1) it may send to. Kill the process when done.
    /// </summary>
    public static async Task<(Process Process, HttpClient Http, int DicomPort)> StartOrthancAsync(string work, IReadOnlyDictionary<string, (string AeTitle, int Port)> modalities, bool dicomWeb = false)
    {
        var dicomPort = FreePort();
        var httpPort = FreePort();
        var config = new Dictionary<string, object>
        {
            ["Name"] = "bench", ["DicomAet"] = "ORTHANC", ["DicomPort"] = dicomPort, ["HttpPort"] = httpPort,
            ["StorageDirectory"] = Directory.CreateDirectory(Path.Combine(work, "orthanc-storage")).FullName,
            ["IndexDirectory"] = Directory.CreateDirectory(Path.Combine(work, "orthanc-index")).FullName,
            ["RemoteAccessAllowed"] = false, ["AuthenticationEnabled"] = false,
            ["DicomModalities"] = modalities.ToDictionary(m => m.Key, m => new object[] { m.Value.AeTitle, "127.0.0.1", m.Value.Port }),
            ["Plugins"] = dicomWeb ? new[] { "/usr/share/orthanc/plugins/libOrthancDicomWeb.so" } : Array.Empty<string>(),
        };
        if (dicomWeb) config["DicomWeb"] = new Dictionary<string, object> { ["Enable"] = true, ["Root"] = "/dicom-web/" };
        var path = Path.Combine(work, "orthanc.json");
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(config));
        var process = Process.Start(StartInfo("/usr/sbin/Orthanc", [path])) ?? throw new InvalidOperationException("Orthanc did not start");
        _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        _ = process.StandardError.BaseStream.CopyToAsync(Stream.Null);
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}/") };
        var watch = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException("Orthanc exited at start");
            try
            {
                if ((await http.GetAsync("system")).IsSuccessStatusCode) return (process, http, dicomPort);
            }
            catch (HttpRequestException)
            {
            }

            if (watch.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException("Orthanc did not answer within 30 s");
            await Task.Delay(100);
        }
    }
}
