namespace MedfusionDicom.Imaging;

/// <summary>A single-channel float image, row-major: what the models, their baselines and evaluation work on.</summary>
public sealed class Image2D
{
    public Image2D(int width, int height, float[]? data = null)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"image size {width}x{height} is not positive");
        data ??= new float[width * height];
        if (data.Length != width * height) throw new ArgumentException($"{data.Length} values do not make a {width}x{height} image");
        Width = width;
        Height = height;
        Data = data;
    }

    public int Width { get; }
    public int Height { get; }
    public float[] Data { get; }

    public float this[int x, int y]
    {
        get => Data[y * Width + x];
        set => Data[y * Width + x] = value;
    }

    /// <summary>The pixel at (x, y) with coordinates clamped to the border (edge replication).</summary>
    public float Clamped(int x, int y) => Data[Math.Clamp(y, 0, Height - 1) * Width + Math.Clamp(x, 0, Width - 1)];

    public Image2D Clone() => new(Width, Height, (float[])Data.Clone());
}
