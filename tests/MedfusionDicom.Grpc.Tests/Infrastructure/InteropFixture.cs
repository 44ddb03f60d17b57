namespace MedfusionDicom.Grpc.Tests.Infrastructure;

/// <summary>The peers most tests share: our server and grpc-js's, each in cleartext and TLS, and the grpc-js client driver.</summary>
public sealed class InteropFixture : IAsyncLifetime
{
    public TestCertificate Tls { get; } = new();

    public OurServer OurServer { get; private set; } = null!;

    public OurServer OurTlsServer { get; private set; } = null!;

    public NodeEchoServer NodeServer { get; private set; } = null!;

    public NodeEchoServer NodeTlsServer { get; private set; } = null!;

    public NodeClientDriver NodeClient { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var nodeServer = NodeEchoServer.StartAsync();
        var nodeTlsServer = NodeEchoServer.StartAsync("--tls-cert", Tls.CertificatePath, "--tls-key", Tls.KeyPath);
        var nodeClient = NodeClientDriver.StartAsync();
        OurServer = await OurServer.StartAsync();
        OurTlsServer = await OurServer.StartAsync(tls: Tls);
        NodeServer = await nodeServer;
        NodeTlsServer = await nodeTlsServer;
        NodeClient = await nodeClient;
    }

    public async Task DisposeAsync()
    {
        await NodeClient.DisposeAsync();
        await NodeServer.DisposeAsync();
        await NodeTlsServer.DisposeAsync();
        await OurServer.DisposeAsync();
        await OurTlsServer.DisposeAsync();
        Tls.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class InteropCollection : ICollectionFixture<InteropFixture>
{
    public const string Name = "interop";
}
