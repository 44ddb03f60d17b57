namespace MedfusionDicom.Imaging;

/// <summary>
/// When an image runs through a model whole and when it is tiled. An image runs whole when its output pixels times the
/// model's <see cref="ModelImageSpec.BytesPerPixel"/> fit the budget; otherwise it runs as overlapping windows of the
/// model's training size, cross-faded linearly over their overlap (MONAI's sliding_window_inference blends windows too), several windows a batch.
/// </summary>
public sealed record TilingOptions
{
    /// <summary>Working memory one batch may take, in megabytes.</summary>
    public long MemoryBudgetMegabytes { get; init; } = 2048;

    /// <summary>Fraction of a window shared with its neighbour, 0 to below 1.</summary>
    public double Overlap { get; init; } = 0.25;

    /// <summary>Windows (or whole images) per forward pass, at most; the budget may allow fewer.</summary>
    public int MaxBatchSize { get; init; } = 4;

    public long MemoryBudgetBytes => MemoryBudgetMegabytes * 1024 * 1024;

    public void Validate(string where = "tiling")
    {
        if (MemoryBudgetMegabytes < 1) throw new ImagingException($"{where}: the memory budget must be at least 1 MB, not {MemoryBudgetMegabytes}");
        if (!(Overlap >= 0 && Overlap < 1)) throw new ImagingException($"{where}: overlap must be at least 0 and below 1, not {Overlap}");
        if (MaxBatchSize < 1) throw new ImagingException($"{where}: the batch size must be at least 1, not {MaxBatchSize}");
    }
}
