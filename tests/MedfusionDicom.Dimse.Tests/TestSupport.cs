using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using MedfusionDicom.Dicom;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Dimse.Tests;

/// <summary>A folder under /tmp that disappears with the test.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = Directory.CreateTempSubdirectory("mfdimse-").FullName;
    }

    public string Path { get; }

    public string Sub(string name) => Directory.CreateDirectory(System.IO.Path.Combine(Path, name)).FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A peer process may still hold a file for a moment; /tmp is cleaned eventually.
        }
    }
}

/// <summary>Collects log lines so tests can check that failures are logged (and with which association).</summary>
public sealed class ListLoggerFactory : ILoggerFactory
{
    public ConcurrentQueue<(LogLevel Level, string Message, Exception? Exception)> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new ListLogger(this);

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    public void Dispose()
    {
    }

    public bool Has(LogLevel level, string fragment) => Lines.Any(l => l.Level == level && l.Message.Contains(fragment, StringComparison.Ordinal));

    private sealed class ListLogger(ListLoggerFactory owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Lines.Enqueue((logLevel, formatter(state, exception), exception));
    }
}

/// <summary>Our SCP on a free loopback port, storing into a temporary folder.</summary>
public sealed class ScpHost : IAsyncDisposable
{
    public const string AETitle = "OURSCP";
    private readonly TempDir _dir;

    private ScpHost(TempDir dir, DicomServer server, string output, ListLoggerFactory logs)
    {
        _dir = dir;
        Server = server;
        Output = output;
        Logs = logs;
    }

    public DicomServer Server { get; }
    public string Output { get; }
    public ListLoggerFactory Logs { get; }
    public int Port => Server.Port;

    public static async Task<ScpHost> StartAsync(Action<DicomServerOptions>? configure = null, Func<string, IDicomStoreHandler>? handler = null)
    {
        var dir = new TempDir();
        // The journal is on, as in `medfusion scp`: every small instance of these tests goes through it.
        var options = new DicomServerOptions { AETitle = AETitle, BindAddress = IPAddress.Loopback, Port = 0, JournalDirectory = dir.Sub("journal") };
        configure?.Invoke(options);
        var logs = new ListLoggerFactory();
        var output = dir.Sub("in");
        var server = new DicomServer(options, handler?.Invoke(output) ?? new DicomFileStoreHandler(output), logs);
        await server.StartAsync();
        return new ScpHost(dir, server, output, logs);
    }

    public DicomClient Client(string calledAe = AETitle, Action<DicomClientOptions>? configure = null)
    {
        var options = new DicomClientOptions { Host = "127.0.0.1", Port = Port, CalledAE = calledAe, CallingAE = "TESTSCU" };
        configure?.Invoke(options);
        return new DicomClient(options);
    }

    /// <summary>Waits until every association has ended (the server works on them after the peer has gone).</summary>
    public async Task WaitIdleAsync(TimeSpan? timeout = null)
    {
        var until = Stopwatch.StartNew();
        while (Server.ActiveAssociations > 0)
        {
            if (until.Elapsed > (timeout ?? TimeSpan.FromSeconds(10))) throw new TimeoutException($"{Server.ActiveAssociations} associations still active");
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        _dir.Dispose();
    }
}

public sealed record ToolResult(int ExitCode, string Stdout, string Stderr)
{
    public string Output => Stdout + Stderr;
}

/// <summary>Runs the real peers (dcmtk, Orthanc, our CLI) as processes.</summary>
public static class Tools
{
    public static async Task<ToolResult> RunAsync(string file, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        using var process = Process.Start(StartInfo(file, args)) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish: {await stderr}");
        }
        return new ToolResult(process.ExitCode, await stdout, await stderr);
    }

    public static ProcessStartInfo StartInfo(string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Polls until <paramref name="ready"/> holds, failing after <paramref name="timeout"/>.</summary>
    public static async Task WaitForAsync(Func<Task<bool>> ready, TimeSpan timeout, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!await ready())
        {
            if (watch.Elapsed > timeout) throw new TimeoutException($"{what} not ready after {timeout.TotalSeconds} s");
            await Task.Delay(50);
        }
    }

    public static async Task<bool> PortOpenAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

/// <summary>A peer process (storescp, Orthanc) running for the length of a test; killed and reaped on dispose.</summary>
public sealed class PeerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stderr;
    private readonly Task<string> _stdout;

    public PeerProcess(string file, IEnumerable<string> args, string? workingDirectory = null)
    {
        var psi = Tools.StartInfo(file, args);
        if (workingDirectory is not null) psi.WorkingDirectory = workingDirectory;
        _process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        _stdout = _process.StandardOutput.ReadToEndAsync();
        _stderr = _process.StandardError.ReadToEndAsync();
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Stops the process and returns what it printed (for failure messages).</summary>
    public async Task<string> StopAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        return await _stdout + await _stderr;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
    }
}

/// <summary>Orthanc (the Debian package) on loopback with its storage in a temporary folder and the given DICOM modalities.</summary>
public sealed class Orthanc : IAsyncDisposable
{
    private readonly TempDir _dir = new();
    private PeerProcess? _process;

    public int DicomPort { get; } = Tools.FreePort();
    public int HttpPort { get; } = Tools.FreePort();
    public HttpClient Http { get; private set; } = null!;

    /// <summary>The DICOMweb root (STOW-RS, QIDO-RS, WADO-RS) when started with the orthanc-dicomweb plugin.</summary>
    public string DicomWebUrl => $"http://127.0.0.1:{HttpPort}/dicom-web";

    /// <param name="modalities">Name to (AE title, port on 127.0.0.1) of the peers Orthanc may send to.</param>
    /// <param name="dicomWeb">Load Debian's orthanc-dicomweb plugin, serving <see cref="DicomWebUrl"/>.</param>
    public async Task StartAsync(IReadOnlyDictionary<string, (string AeTitle, int Port)> modalities, bool dicomWeb = false, IReadOnlyDictionary<string, string>? dicomWebServers = null)
    {
        var config = new Dictionary<string, object>
        {
            ["Name"] = "mfdimse-test",
            ["DicomAet"] = "ORTHANC",
            ["DicomPort"] = DicomPort,
            ["HttpPort"] = HttpPort,
            ["StorageDirectory"] = _dir.Sub("storage"),
            ["IndexDirectory"] = _dir.Sub("index"),
            ["RemoteAccessAllowed"] = false,
            ["AuthenticationEnabled"] = false,
            ["DicomModalities"] = modalities.ToDictionary(m => m.Key, m => new object[] { m.Value.AeTitle, "127.0.0.1", m.Value.Port }),
            ["Plugins"] = dicomWeb ? new[] { "/usr/share/orthanc/plugins/libOrthancDicomWeb.so" } : Array.Empty<string>(),
        };
        if (dicomWeb)
            config["DicomWeb"] = new Dictionary<string, object>
            {
                ["Enable"] = true, ["Root"] = "/dicom-web/",
                // Name to root URL of the DICOMweb servers Orthanc may send to (its STOW-RS client: /dicom-web/servers/NAME/stow).
                ["Servers"] = (dicomWebServers ?? new Dictionary<string, string>()).ToDictionary(s => s.Key, s => (object)new[] { s.Value }),
            };
        var path = Path.Combine(_dir.Path, "orthanc.json");
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(config));
        _process = new PeerProcess("/usr/sbin/Orthanc", [path], _dir.Path);
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}/") };
        await Tools.WaitForAsync(async () =>
        {
            if (_process.HasExited) throw new InvalidOperationException("Orthanc exited: " + await _process.StopAsync());
            try
            {
                return (await Http.GetAsync("system")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(30), "Orthanc");
    }

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        if (_process is not null) await _process.DisposeAsync();
        _dir.Dispose();
    }
}

/// <summary>The test corpus: pydicom's files (Debian python3-pydicom) and the shared MR series.</summary>
public static class Corpus
{
    public const string PydicomDir = "/usr/lib/python3/dist-packages/pydicom/data/test_files";

    public static string Pydicom(string name) => Path.Combine(PydicomDir, name);

    /// <summary>../shared/data/dicom/mr-ge-epi-64 from the repository root (found by walking up from the test binaries).</summary>
    public static string? MrSeriesDir
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (!File.Exists(Path.Combine(dir.FullName, "MedfusionDicom.sln"))) continue;
                var series = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data", "dicom", "mr-ge-epi-64"));
                return Directory.Exists(series) ? series : null;
            }
            return null;
        }
    }

    public static string[] MrSeries() => Directory.GetFiles(MrSeriesDir!, "*.dcm").Order(StringComparer.Ordinal).ToArray();

    /// <summary>Uncompressed files in each uncompressed syntax, each a different SOP instance.</summary>
    public static readonly string[] Uncompressed = ["CT_small.dcm", "MR_small_bigendian.dcm", "rtplan.dcm", "SC_rgb_small_odd.dcm", "rtdose.dcm"];

    /// <summary>
    /// Compressed files, with the dcmtk storescu option that makes it propose their syntax. Within one option the
    /// SOP instances differ (pydicom reuses one instance UID across the syntaxes of MR_small).
    /// </summary>
    public static readonly (string File, string ProposeOption)[] Compressed =
    [
        ("MR_small_jp2klossless.dcm", "-xv"), ("JPEG2000.dcm", "-xw"), ("MR_small_RLE.dcm", "-xr"), ("SC_rgb_rle.dcm", "-xr"),
        ("MR_small_jpeg_ls_lossless.dcm", "-xt"), ("SC_rgb_jpeg_dcmtk.dcm", "-xy"), ("JPEG-lossy.dcm", "-xx"), ("image_dfl.dcm", "-xd"),
        ("SC_rgb_jpeg_gdcm.dcm", "-xs"),
    ];
}

/// <summary>Skips the test (with the reason) when the shared MR series is not checked out beside the repository.</summary>
public sealed class SharedDataFactAttribute : FactAttribute
{
    public SharedDataFactAttribute()
    {
        if (Corpus.MrSeriesDir is null) Skip = "shared data absent: ../shared/data/dicom/mr-ge-epi-64 (next to the repository root) is not there";
    }
}

public static class DatasetAssert
{
    /// <summary>The dataset of a file: its bytes after the meta group, exactly as stored.</summary>
    public static byte[] RawDataset(string path)
    {
        var source = SourceFile.Probe(path);
        Assert.True(source.IsRaw, $"{path} has no meta group");
        return File.ReadAllBytes(path)[(int)source.DatasetOffset..];
    }

    /// <summary>
    /// The datasets hold the same elements with the same VRs and value bytes, apart from group lengths and trailing
    /// padding (FFFC,FFFC), which PS3.5 lets any writer drop or recompute. Encapsulated pixel data may change from
    /// OW to OB (dcmtk corrects it on sending); after implicit VR, elements the dictionary lacks read as UN.
    /// </summary>
    public static void Equivalent(DicomDataset expected, DicomDataset actual, string where = "", bool viaImplicitVr = false)
    {
        var e = expected.Where(Compared).ToList();
        var a = actual.Where(Compared).ToList();
        Assert.True(e.Select(i => i.Tag).SequenceEqual(a.Select(i => i.Tag)),
            $"{where}: tags differ: {string.Join(",", e.Select(i => i.Tag).Except(a.Select(i => i.Tag)))} / {string.Join(",", a.Select(i => i.Tag).Except(e.Select(i => i.Tag)))}");
        for (var n = 0; n < e.Count; n++)
        {
            var (x, y) = (e[n], a[n]);
            var at = $"{where}{x.Tag}";
            var vrMayChange = x is DicomFragmentSequence || (viaImplicitVr && y.ValueRepresentation == DicomVR.UN);
            Assert.True(vrMayChange || x.ValueRepresentation == y.ValueRepresentation, $"{at}: VR {x.ValueRepresentation} became {y.ValueRepresentation}");
            switch (x)
            {
                case DicomElement xe:
                    Assert.True(xe.Buffer.Memory.Span.SequenceEqual(((DicomElement)y).Buffer.Memory.Span), $"{at}: value differs");
                    break;
                case DicomSequence xs:
                    var ys = (DicomSequence)y;
                    Assert.Equal(xs.Items.Count, ys.Items.Count);
                    for (var i = 0; i < xs.Items.Count; i++) Equivalent(xs.Items[i], ys.Items[i], $"{at}[{i}]/", viaImplicitVr);
                    break;
                case DicomFragmentSequence xf:
                    var yf = (DicomFragmentSequence)y;
                    Assert.Equal(xf.Fragments.Count, yf.Fragments.Count);
                    for (var i = 0; i < xf.Fragments.Count; i++)
                        Assert.True(xf.Fragments[i].Memory.Span.SequenceEqual(yf.Fragments[i].Memory.Span), $"{at} fragment {i} differs");
                    break;
            }
        }
    }

    private static bool Compared(DicomItem item) => !item.Tag.IsGroupLength && item.Tag != new DicomTag(0xFFFC, 0xFFFC);

    /// <summary>The received file has the source's dataset (element for element) and a meta group that says so.</summary>
    public static void SameInstance(string sourcePath, string receivedPath)
    {
        var source = DicomFile.Open(sourcePath);
        var received = DicomFile.Open(receivedPath);
        Assert.Equal(source.TransferSyntax, received.TransferSyntax);
        Assert.Equal(source.Dataset.GetString(DicomTag.SOPInstanceUID), received.FileMetaInfo.GetString(DicomTag.MediaStorageSOPInstanceUID));
        Assert.Equal(source.Dataset.GetString(DicomTag.SOPClassUID), received.FileMetaInfo.GetString(DicomTag.MediaStorageSOPClassUID));
        Equivalent(source.Dataset, received.Dataset, Path.GetFileName(sourcePath) + " ");
    }

    /// <summary>Every visible file below <paramref name="folder"/> (not the SCP's .journal) by the SOP Instance UID of its dataset.</summary>
    public static Dictionary<string, string> ByInstanceUid(string folder) =>
        DicomClient.ExpandPaths([folder])
            .ToDictionary(f => DicomFile.Open(f).Dataset.GetString(DicomTag.SOPInstanceUID), f => f);
}

/// <summary>Certificates for the TLS tests.</summary>
public static class TestCertificates
{
    /// <summary>A self-signed certificate for 127.0.0.1/localhost, with its key, and both as PEM files for dcmtk.</summary>
    public static (X509Certificate2 Cert, string CertPem, string KeyPem) SelfSigned(TempDir dir, string name)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certPem = Path.Combine(dir.Path, name + ".crt");
        var keyPem = Path.Combine(dir.Path, name + ".key");
        File.WriteAllText(certPem, cert.ExportCertificatePem());
        File.WriteAllText(keyPem, rsa.ExportPkcs8PrivateKeyPem());
        return (cert, certPem, keyPem);
    }
}
