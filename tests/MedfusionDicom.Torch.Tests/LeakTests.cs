using Xunit.Abstractions;
using static MedfusionDicom.Torch.torch;

namespace MedfusionDicom.Torch.Tests;

public sealed class LeakTests
{
    private readonly ITestOutputHelper output;
    public LeakTests(ITestOutputHelper output) { this.output = output; }

    private static long RssBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        throw new InvalidOperationException("no VmRSS");
    }

    [Fact]
    public void Ten_thousand_forward_passes_in_dispose_scopes_keep_rss_flat()
    {
        using var model = nn.Sequential(nn.Conv2d(4, 8, 3, padding: 1), nn.GroupNorm(2, 8), nn.SiLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 16));
        using var x = randn(2, 4, 8, 8);
        using var state = zeros(2, 16).DetachFromDisposeScope();
        var current = state.clone();
        long baseline = 0;
        for (int i = 0; i < 10_000; i++)
        {
            using (var scope = NewDisposeScope())
            {
                var y = model.call(x);
                var loss = (y - current).pow(2).mean();
                if (i % 10 == 0) loss.backward();
                // a sampling-loop style carry: the new state leaves the scope, the old one is freed
                var next = (current * 0.5 + y.detach() * 0.5).MoveToOuterDisposeScope();
                current.Dispose();
                current = next;
            }
            if (i % 1_000 == 0 && i > 0)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                if (i == 1_000) baseline = RssBytes();
                output.WriteLine($"iteration {i}: RSS {RssBytes() >> 10} KiB");
            }
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long growth = RssBytes() - baseline;
        current.Dispose();
        output.WriteLine($"RSS after 1,000 iterations {baseline >> 20} MiB, growth over the next 9,000: {growth / 1024} KiB");
        Assert.True(growth < 16L << 20, $"RSS grew by {growth / (1 << 20)} MiB over 9,000 iterations");
    }
}
