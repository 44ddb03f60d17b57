using Xunit.Abstractions;
using static TorchSharp.torch;

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
        using var model = nn.Sequential(nn.Conv2d(4, 8, 3, padding: 1), MedfusionDicom.Torch.NN.Layers.GroupNorm(2, 8), nn.SiLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 16));
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

public sealed class HeapReuseTests
{
    private static long MinorFaults() =>
        // /proc/self/stat field 10 (minflt), counted after the parenthesised command name
        long.Parse(File.ReadAllText("/proc/self/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[7], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Minor page faults of each of 20 allocations of 16 MiB (8 x 32 x 128 x 128 float32, one activation of a
    /// batch of 8 in the demo models), after 12 to warm up: the first several after a change of malloc settings still
    /// fault in afresh while the heap settles (8 of them in one run).</summary>
    private static long[] FaultsOfTwentyActivations()
    {
        for (int i = 0; i < 12; i++)
        {
            using var warm = ones(8, 32, 128, 128);
        }
        var faults = new long[20];
        for (int i = 0; i < faults.Length; i++)
        {
            long before = MinorFaults();
            using (var t = ones(8, 32, 128, 128)) { }
            faults[i] = MinorFaults() - before;
        }
        return faults;
    }

    [Fact]
    public void Freed_activations_are_reused_instead_of_page_faulted_in_anew()
    {
        try
        {
            Assert.True(CpuMemory.Restore());
            var plain = FaultsOfTwentyActivations();
            Assert.True(CpuMemory.KeepFreedMemory());
            var kept = FaultsOfTwentyActivations();
            // A 16 MiB block mapped afresh faults in 4,096 pages of 4 KiB; a reused one next to none. glibc's defaults map
            // every one afresh; kept, once settled, they are reused.
            static int Fresh(long[] faults) => faults.Count(f => f > 400);
            Assert.True(Fresh(plain) >= 18, $"glibc's defaults faulted afresh in only {Fresh(plain)} of 20: [{string.Join(", ", plain)}]");
            Assert.True(Fresh(kept) <= 2, $"with freed memory kept, {Fresh(kept)} of 20 allocations still faulted afresh: [{string.Join(", ", kept)}]");
        }
        finally
        {
            CpuMemory.KeepFreedMemory();
        }
    }
}
