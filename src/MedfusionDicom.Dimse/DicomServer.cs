using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using MedfusionDicom.Dicom;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedfusionDicom.Dimse;

/// <summary>A calling AE allowed to associate, optionally only from one host (name or IP address).</summary>
public sealed record DicomPeer(string AETitle, string? Host = null);

public sealed class DicomServerOptions
{
    public string AETitle { get; set; } = "MEDFUSION";
    public IPAddress BindAddress { get; set; } = IPAddress.Any;
    /// <summary>TCP port; 0 picks a free one (see <see cref="DicomServer.Port"/>).</summary>
    public int Port { get; set; } = 104;
    /// <summary>Associations beyond this many are rejected as transient, local limit exceeded.</summary>
    public int MaxAssociations { get; set; } = 32;
    /// <summary>
    /// Connections allowed on top of <see cref="MaxAssociations"/> (still negotiating, or about to be rejected);
    /// beyond that a new connection is closed at once, so idle sockets cannot pile up until ARTIM expires.
    /// </summary>
    public int MaxPendingConnections { get; set; } = 64;
    /// <summary>Calling AE titles (with hosts) allowed to associate; null allows every peer.</summary>
    public IReadOnlyList<DicomPeer>? AllowedPeers { get; set; }
    /// <summary>Transfer syntaxes we accept, in order of preference.</summary>
    public IReadOnlyList<DicomTransferSyntax> AcceptedTransferSyntaxes { get; set; } = DefaultTransferSyntaxes;
    /// <summary>Abstract syntaxes we accept; null: Verification, and every storage SOP class when a store handler is set.</summary>
    public IReadOnlySet<string>? AcceptedSopClasses { get; set; }
    public uint MaxPduLength { get; set; } = DicomAssociation.DefaultMaxPduLength;
    public DicomTimeouts Timeouts { get; set; } = new();
    public DicomTlsOptions? Tls { get; set; }
    /// <summary>
    /// Every instance's data is fdatasync'ed before its 0000 is sent, always. This adds an fsync of the directory after
    /// the rename, so that the file's name, too, is on disk before the answer (POSIX strict; a second journal commit
    /// per instance). Without it the rename reaches the disk with the file system's next commit (ext4: the next
    /// fsync by anyone, or 5 s), and a crash in between leaves the complete data under its temporary name.
    /// </summary>
    public bool SyncDirectory { get; set; }
    /// <summary>
    /// A folder for the write-ahead store journal (<see cref="DicomStoreJournal"/>), on the same durable storage as the
    /// instances: small instances are then acknowledged after one cheap sync of the journal instead of an fdatasync
    /// of each new file, with the same guarantee, and whatever a crash left unfinished is written again when the
    /// server starts. Null (the default): every instance is synced in place. Linux only.
    /// </summary>
    public string? JournalDirectory { get; set; }
    /// <summary>Size of each of the journal's two segment files.</summary>
    public int JournalSegmentBytes { get; set; } = DicomStoreJournal.DefaultSegmentBytes;

    /// <summary>Explicit VR LE, then Implicit VR LE, then the other syntaxes whose datasets the gateway can decode.</summary>
    public static IReadOnlyList<DicomTransferSyntax> DefaultTransferSyntaxes { get; } =
    [
        DicomTransferSyntax.ExplicitVRLittleEndian, DicomTransferSyntax.ImplicitVRLittleEndian,
        DicomTransferSyntax.DeflatedExplicitVRLittleEndian, DicomTransferSyntax.ExplicitVRBigEndian,
        DicomTransferSyntax.JPEGBaseline8Bit, DicomTransferSyntax.JPEGExtended12Bit, DicomTransferSyntax.JPEGLossless,
        DicomTransferSyntax.JPEGLosslessSV1, DicomTransferSyntax.JPEGLSLossless, DicomTransferSyntax.JPEGLSNearLossless,
        DicomTransferSyntax.JPEG2000Lossless, DicomTransferSyntax.JPEG2000, DicomTransferSyntax.RLELossless,
    ];

    /// <summary>Verification and every storage SOP class of the dictionary.</summary>
    public static IReadOnlySet<string> StorageSopClasses { get; } =
        DicomUID.All.Where(u => u.IsImageStorage).Select(u => u.UID).Append(DicomUID.Verification.UID).ToHashSet(StringComparer.Ordinal);
}

/// <summary>
/// A DICOM SCP: Verification, and Storage through an <see cref="IDicomStoreHandler"/>. Each association runs on
/// its own task; whatever one peer sends (garbage, stalls, aborts) ends only that association.
/// </summary>
public sealed class DicomServer : IAsyncDisposable
{
    private readonly IDicomStoreHandler? _storeHandler;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly HashSet<Task> _running = [];
    private readonly Lock _runningLock = new();
    private TcpListener? _listener;
    private Task? _acceptLoop;
    private int _associations;
    private int _connections;
    private Dictionary<string, HashSet<IPAddress>?>? _allowed;

    public DicomServer(DicomServerOptions options, IDicomStoreHandler? storeHandler = null, ILoggerFactory? loggerFactory = null)
    {
        Options = options;
        _storeHandler = storeHandler;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("MedfusionDicom.Dimse.Scp");
        AcceptedSopClasses = options.AcceptedSopClasses
            ?? (storeHandler is null ? new HashSet<string>(StringComparer.Ordinal) { DicomUID.Verification.UID } : DicomServerOptions.StorageSopClasses);
    }

    public DicomServerOptions Options { get; }
    internal IReadOnlySet<string> AcceptedSopClasses { get; }
    internal IDicomStoreHandler? StoreHandler => _storeHandler;
    /// <summary>The store journal when <see cref="DicomServerOptions.JournalDirectory"/> is set (open while the server runs).</summary>
    public DicomStoreJournal? Journal { get; private set; }
    internal ILogger Logger => _logger;
    /// <summary>The port listened on (useful when <see cref="DicomServerOptions.Port"/> was 0).</summary>
    public int Port { get; private set; }
    /// <summary>Associations currently established (negotiated and not yet ended).</summary>
    public int ActiveAssociations => Volatile.Read(ref _associations);

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_listener is not null) throw new InvalidOperationException("the server is already started");
        // Checked here, once, rather than failing every handshake later.
        if (Options.Tls is { Certificate: null }) throw new InvalidOperationException("a TLS SCP needs a certificate with its private key");
        if (Options.Tls?.Certificate is { HasPrivateKey: false }) throw new InvalidOperationException("the TLS certificate of the SCP has no private key");
        _allowed = await ResolveAllowedAsync(cancellationToken).ConfigureAwait(false);
        var listener = new TcpListener(Options.BindAddress, Options.Port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start(512);
        try
        {
            // Opened (and replayed) before the first association is accepted, so a replay never races a new store.
            if (Options.JournalDirectory is { } journal && _storeHandler is not null)
                Journal = await Task.Run(() => DicomStoreJournal.Open(journal, Options.JournalSegmentBytes, logger: _logger), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            listener.Stop();
            throw;
        }
        _listener = listener;
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        Log.Listening(_logger, Options.AETitle, listener.LocalEndpoint.ToString() ?? "", Options.Tls is not null, Options.MaxAssociations);
        _acceptLoop = AcceptLoopAsync(listener);
    }

    private async Task<Dictionary<string, HashSet<IPAddress>?>?> ResolveAllowedAsync(CancellationToken ct)
    {
        if (Options.AllowedPeers is null) return null;
        var map = new Dictionary<string, HashSet<IPAddress>?>(StringComparer.Ordinal);
        foreach (var peer in Options.AllowedPeers)
        {
            HashSet<IPAddress>? hosts = null;
            if (peer.Host is { Length: > 0 } host)
            {
                var addresses = IPAddress.TryParse(host, out var ip) ? [ip] : await Dns.GetHostAddressesAsync(host, ct).ConfigureAwait(false);
                hosts = addresses.Select(Normalize).ToHashSet();
            }
            if (map.TryGetValue(peer.AETitle, out var existing))
            {
                // Listed once without a host: any host. Listed with hosts: the union of them.
                map[peer.AETitle] = existing is null || hosts is null ? null : [.. existing, .. hosts];
            }
            else map[peer.AETitle] = hosts;
        }
        return map;
    }

    private static IPAddress Normalize(IPAddress ip) => ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;

    internal bool IsAllowed(string callingAe, EndPoint? remote)
    {
        if (_allowed is null) return true;
        if (!_allowed.TryGetValue(callingAe, out var hosts)) return false;
        return hosts is null || (remote is IPEndPoint ip && hosts.Contains(Normalize(ip.Address)));
    }

    internal bool TryAcquireAssociation()
    {
        while (true)
        {
            var current = Volatile.Read(ref _associations);
            if (current >= Options.MaxAssociations) return false;
            if (Interlocked.CompareExchange(ref _associations, current + 1, current) == current) return true;
        }
    }

    internal void ReleaseAssociation() => Interlocked.Decrement(ref _associations);

    private async Task AcceptLoopAsync(TcpListener listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                // A connection reset before accept completed: keep listening.
                continue;
            }
            if (Interlocked.Increment(ref _connections) > Options.MaxAssociations + Options.MaxPendingConnections)
            {
                Interlocked.Decrement(ref _connections);
                Log.TooManyConnections(_logger, socket.RemoteEndPoint?.ToString() ?? "?", Options.MaxAssociations + Options.MaxPendingConnections);
                socket.Dispose();
                continue;
            }
            socket.NoDelay = true;
            var task = Task.Run(() => ServeConnectionAsync(socket));
            lock (_runningLock) _running.Add(task);
            _ = task.ContinueWith(t =>
            {
                lock (_runningLock) _running.Remove(t);
            }, TaskScheduler.Default);
        }
    }

    private async Task ServeConnectionAsync(Socket socket)
    {
        var remote = socket.RemoteEndPoint;
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        var ssl = Options.Tls is null ? null : new SslStream(stream, leaveInnerStreamOpen: false);
        var connection = new DicomConnection(ssl ?? stream, socket, remote, _stop.Token);
        ServerAssociation? association = null;
        try
        {
            if (ssl is not null)
            {
                using var handshake = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                handshake.CancelAfter(Options.Timeouts.Artim);
                await ssl.AuthenticateAsServerAsync(Options.Tls!.ServerOptions(), handshake.Token).ConfigureAwait(false);
            }
            association = new ServerAssociation(this, connection, Options.Tls is not null);
            await association.RunAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException or SocketException)
        {
            // A failed TLS handshake or a transport error before the association began: log and close.
            Log.EndedByPeer(_logger, association?.Id ?? 0, remote?.ToString() ?? "?", "", "transport failed before association: " + ex.Message);
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            Interlocked.Decrement(ref _connections);
        }
    }

    public async Task StopAsync()
    {
        if (_listener is null) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        if (_acceptLoop is not null) await _acceptLoop.ConfigureAwait(false);
        Task[] running;
        lock (_runningLock) running = [.. _running];
        await Task.WhenAll(running).ConfigureAwait(false);
        if (Journal is { } journal)
        {
            Journal = null;
            await journal.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // A host may dispose a service twice (as itself and as a hosted service); the second time does nothing.
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        await StopAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private int _disposed;
}
