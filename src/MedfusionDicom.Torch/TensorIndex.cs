namespace MedfusionDicom.Torch;

public static partial class torch
{
    /// <summary>One index of <c>tensor[...]</c>: an integer, a slice, None, Ellipsis, a bool or an index tensor.
    /// Converts implicitly from long, int, bool, System.Range and Tensor.</summary>
    public sealed class TensorIndex
    {
        internal enum Kind { Single = 0, Slice = 1, None = 2, Ellipsis = 3, Bool = 4, Tensor = 5 }
        internal Kind kind;
        internal long a = Native.Call.NoneIndex, b = Native.Call.NoneIndex, c = Native.Call.NoneIndex;
        internal Tensor? tensor;

        private TensorIndex(Kind k) { kind = k; }

        public static TensorIndex Single(long index) => new(Kind.Single) { a = index };
        public static TensorIndex Slice(long? start = null, long? stop = null, long? step = null) => new(Kind.Slice)
        {
            a = start ?? Native.Call.NoneIndex, b = stop ?? Native.Call.NoneIndex, c = step ?? Native.Call.NoneIndex,
        };
        public static TensorIndex Bool(bool value) => new(Kind.Bool) { a = value ? 1 : 0 };
        public static TensorIndex Tensor(Tensor index) => new(Kind.Tensor) { tensor = index };
        public static readonly TensorIndex Ellipsis = new(Kind.Ellipsis);
        public static readonly TensorIndex None = new(Kind.None);
        public static readonly TensorIndex Colon = Slice();

        public static implicit operator TensorIndex(long index) => Single(index);
        public static implicit operator TensorIndex(int index) => Single(index);
        public static implicit operator TensorIndex(bool value) => Bool(value);
        public static implicit operator TensorIndex(Tensor index) => Tensor(index);
        public static implicit operator TensorIndex(Range range)
        {
            long? start = range.Start.IsFromEnd ? (range.Start.Value == 0 ? null : -range.Start.Value) : range.Start.Value;
            long? stop = range.End.IsFromEnd ? (range.End.Value == 0 ? null : -range.End.Value) : range.End.Value;
            if (start == 0) start = null;
            return Slice(start, stop);
        }

        /// <summary>Encodes indices as the shim's 4-int records; index tensors go to tensors from slot firstTensor on.</summary>
        internal static long[] Encode(TensorIndex[] indices, List<Tensor?> tensors)
        {
            var r = new long[indices.Length * 4];
            for (int k = 0; k < indices.Length; k++)
            {
                var ix = indices[k];
                r[4 * k] = (long)ix.kind;
                if (ix.kind == Kind.Tensor) { r[4 * k + 1] = tensors.Count; tensors.Add(ix.tensor); }
                else { r[4 * k + 1] = ix.a; r[4 * k + 2] = ix.b; r[4 * k + 3] = ix.c; }
            }
            return r;
        }
    }
}
