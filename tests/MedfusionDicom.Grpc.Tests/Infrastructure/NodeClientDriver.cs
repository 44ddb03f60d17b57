using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Grpc.Core;

namespace MedfusionDicom.Grpc.Tests.Infrastructure;

/// <summary>What tests/interop/node/client.js reports for one grpc-js call.</summary>
public sealed class NodeCallResult
{
    public int Code { get; init; }
    public string Details { get; init; } = "";
    public Dictionary<string, string[]> Headers { get; init; } = [];
    public Dictionary<string, string[]> Trailers { get; init; } = [];
    public List<JsonObject> Responses { get; init; } = [];
    public double ElapsedMs { get; init; }

    public StatusCode StatusCode => (StatusCode)Code;

    /// <summary>Asserts the status, showing grpc-message when it differs.</summary>
    public void AssertStatus(StatusCode expected) =>
        Assert.True(StatusCode == expected, $"expected {expected}, got {StatusCode}: {Details}");
}

/// <summary>Drives grpc-js as a client: one long-lived node process, calls sent as JSON lines, run concurrently.</summary>
public sealed class NodeClientDriver : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    private readonly NodeProcess node;
    private readonly ConcurrentDictionary<int, TaskCompletionSource<NodeCallResult>> pending = new();
    private readonly SemaphoreSlim writeLock = new(1, 1);
    private readonly Task readLoop;
    private int nextId;

    private NodeClientDriver(NodeProcess node)
    {
        this.node = node;
        readLoop = Task.Run(ReadResultsAsync);
    }

    public static async Task<NodeClientDriver> StartAsync()
    {
        var node = await NodeProcess.StartAsync("client.js");
        await node.WaitForLineAsync("READY");
        return new NodeClientDriver(node);
    }

    /// <summary>Runs one call; the command's fields are those documented in client.js ("id" is added here).</summary>
    public async Task<NodeCallResult> CallAsync(object command)
    {
        var json = JsonSerializer.SerializeToNode(command, Json)!.AsObject();
        var id = Interlocked.Increment(ref nextId);
        json["id"] = id;
        var completion = new TaskCompletionSource<NodeCallResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        pending[id] = completion;
        await writeLock.WaitAsync();
        try
        {
            await node.Input.WriteLineAsync(json.ToJsonString());
            await node.Input.FlushAsync();
        }
        finally
        {
            writeLock.Release();
        }

        return await completion.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }

    public async ValueTask DisposeAsync()
    {
        await node.DisposeAsync();
        await readLoop;
    }

    private async Task ReadResultsAsync()
    {
        while (await node.Output.ReadLineAsync() is { } line)
        {
            var result = JsonNode.Parse(line)!.AsObject();
            var id = result["id"]!.GetValue<int>();
            if (pending.TryRemove(id, out var completion))
            {
                completion.TrySetResult(result.Deserialize<NodeCallResult>(Json)!);
            }
        }

        foreach (var completion in pending.Values)
        {
            completion.TrySetException(new InvalidOperationException("the grpc-js client driver exited"));
        }
    }
}
