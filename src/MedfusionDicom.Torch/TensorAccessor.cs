using System.Collections;

namespace MedfusionDicom.Torch.Utils;

/// <summary>Element access to a tensor's memory (TorchSharp's TensorAccessor).</summary>
public sealed unsafe class TensorAccessor<T> : IDisposable, IEnumerable<T> where T : unmanaged
{
    private readonly torch.Tensor tensor;
    private readonly T* ptr;
    private readonly bool owns;
    public long Count { get; }

    internal TensorAccessor(torch.Tensor tensor, IntPtr p, long count, bool owns)
    {
        this.tensor = tensor;
        ptr = (T*)p;
        Count = count;
        this.owns = owns;
    }

    public T this[long index]
    {
        get { CheckIndex(index); return ptr[index]; }
        set { CheckIndex(index); ptr[index] = value; }
    }

    public T this[params long[] indices]
    {
        get => this[Flat(indices)];
        set => this[Flat(indices)] = value;
    }

    private long Flat(long[] indices)
    {
        var shape = tensor.shape;
        if (indices.Length != shape.Length) throw new TorchException($"expected {shape.Length} indices, got {indices.Length}");
        long flat = 0;
        for (int k = 0; k < shape.Length; k++)
        {
            long ix = indices[k] < 0 ? indices[k] + shape[k] : indices[k];
            if (ix < 0 || ix >= shape[k]) throw new TorchException($"index {indices[k]} is out of bounds for dimension {k} with size {shape[k]}");
            flat = flat * shape[k] + ix;
        }
        return flat;
    }

    private void CheckIndex(long index)
    {
        if ((ulong)index >= (ulong)Count) throw new TorchException($"index {index} is out of bounds for {Count} elements");
        GC.KeepAlive(tensor);
    }

    public T[] ToArray()
    {
        var a = new T[Count];
        new ReadOnlySpan<T>(ptr, checked((int)Count)).CopyTo(a);
        GC.KeepAlive(tensor);
        return a;
    }

    public ReadOnlySpan<T> AsSpan() => new(ptr, checked((int)Count));

    public IEnumerator<T> GetEnumerator()
    {
        for (long k = 0; k < Count; k++) yield return this[k];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public void Dispose()
    {
        if (owns) tensor.Dispose();
    }
}
