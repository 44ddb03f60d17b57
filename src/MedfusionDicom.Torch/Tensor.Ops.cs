using MedfusionDicom.Torch.Native;

namespace MedfusionDicom.Torch;

public static partial class torch
{
    public partial class Tensor
    {
        private Tensor U(Op op) => Call.Run(op, [this]);
        private Tensor UI(Op op) => Call.InPlace(op, [this]);
        private Tensor B(Op op, Tensor other) => Call.Run(op, [this, other]);
        private Tensor BI(Op op, Tensor other) => Call.InPlace(op, [this, other]);
        private Tensor BS(Op op, Scalar s) => Call.Run(op, [this], default, [s.Value], Call.Mask(s));
        private Tensor BSI(Op op, Scalar s) => Call.InPlace(op, [this], default, [s.Value], Call.Mask(s));

        // ---- elementwise, unary ----
        public Tensor neg() => U(Op.Neg); public Tensor neg_() => UI(Op.Neg);
        public Tensor exp() => U(Op.Exp); public Tensor exp_() => UI(Op.Exp);
        public Tensor log() => U(Op.Log); public Tensor log_() => UI(Op.Log);
        public Tensor log2() => U(Op.Log2); public Tensor log1p() => U(Op.Log1p); public Tensor expm1() => U(Op.Expm1);
        public Tensor sqrt() => U(Op.Sqrt); public Tensor sqrt_() => UI(Op.Sqrt);
        public Tensor rsqrt() => U(Op.Rsqrt); public Tensor rsqrt_() => UI(Op.Rsqrt);
        public Tensor abs() => U(Op.Abs); public Tensor abs_() => UI(Op.Abs);
        public Tensor sin() => U(Op.Sin); public Tensor sin_() => UI(Op.Sin);
        public Tensor cos() => U(Op.Cos); public Tensor cos_() => UI(Op.Cos);
        public Tensor tan() => U(Op.Tan); public Tensor atan() => U(Op.Atan); public Tensor asin() => U(Op.Asin); public Tensor acos() => U(Op.Acos);
        public Tensor tanh() => U(Op.Tanh); public Tensor tanh_() => UI(Op.Tanh);
        public Tensor sigmoid() => U(Op.Sigmoid); public Tensor sigmoid_() => UI(Op.Sigmoid);
        public Tensor relu() => U(Op.Relu); public Tensor relu_() => UI(Op.Relu);
        public Tensor silu() => U(Op.Silu); public Tensor silu_() => UI(Op.Silu);
        public Tensor sign() => U(Op.Sign); public Tensor floor() => U(Op.Floor); public Tensor ceil() => U(Op.Ceil);
        public Tensor round() => U(Op.Round); public Tensor trunc() => U(Op.Trunc);
        public Tensor reciprocal() => U(Op.Reciprocal); public Tensor square() => U(Op.Square); public Tensor erf() => U(Op.Erf);
        public Tensor logical_not() => U(Op.LogicalNot); public Tensor isnan() => U(Op.IsNan); public Tensor bitwise_not() => U(Op.BitwiseNot);
        public Tensor contiguous() => U(Op.Contiguous);
        public Tensor clone() => U(Op.Clone);
        public Tensor detach() => U(Op.Detach);
        /// <summary>A new tensor object for the same tensor (shares data and autograd history).</summary>
        public Tensor alias() => new(NewAlias());
        public Tensor detach_() => UI(Op.Detach);
        public Tensor zero_() => UI(Op.Zero);

        // ---- elementwise, binary (broadcasting) ----
        public Tensor add(Tensor other) => B(Op.Add, other);
        public Tensor add(Tensor other, Scalar alpha) => Call.Run(Op.Add, [this, other], default, [0, alpha.Value], alpha.IsIntegral ? 2 : 0);
        public Tensor add(Scalar other) => BS(Op.Add, other);
        public Tensor add_(Tensor other) => BI(Op.Add, other);
        public Tensor add_(Tensor other, Scalar alpha) => Call.InPlace(Op.Add, [this, other], default, [0, alpha.Value], alpha.IsIntegral ? 2 : 0);
        public Tensor add_(Scalar other) => BSI(Op.Add, other);
        public Tensor sub(Tensor other) => B(Op.Sub, other); public Tensor sub(Scalar other) => BS(Op.Sub, other);
        public Tensor sub_(Tensor other) => BI(Op.Sub, other); public Tensor sub_(Scalar other) => BSI(Op.Sub, other);
        public Tensor mul(Tensor other) => B(Op.Mul, other); public Tensor mul(Scalar other) => BS(Op.Mul, other);
        public Tensor mul_(Tensor other) => BI(Op.Mul, other); public Tensor mul_(Scalar other) => BSI(Op.Mul, other);
        public Tensor div(Tensor other) => B(Op.Div, other); public Tensor div(Scalar other) => BS(Op.Div, other);
        public Tensor div_(Tensor other) => BI(Op.Div, other); public Tensor div_(Scalar other) => BSI(Op.Div, other);
        public Tensor pow(Tensor exponent) => B(Op.Pow, exponent); public Tensor pow(Scalar exponent) => BS(Op.Pow, exponent);
        public Tensor pow_(Tensor exponent) => BI(Op.Pow, exponent); public Tensor pow_(Scalar exponent) => BSI(Op.Pow, exponent);
        public Tensor remainder(Tensor other) => B(Op.Remainder, other); public Tensor remainder(Scalar other) => BS(Op.Remainder, other);
        public Tensor floor_divide(Tensor other) => B(Op.FloorDivide, other); public Tensor floor_divide(Scalar other) => BS(Op.FloorDivide, other);
        public Tensor maximum(Tensor other) => B(Op.Maximum, other);
        public Tensor minimum(Tensor other) => B(Op.Minimum, other);
        public Tensor atan2(Tensor other) => B(Op.Atan2, other);
        public Tensor eq(Tensor other) => B(Op.Eq, other); public Tensor eq(Scalar other) => BS(Op.Eq, other);
        public Tensor ne(Tensor other) => B(Op.Ne, other); public Tensor ne(Scalar other) => BS(Op.Ne, other);
        public Tensor lt(Tensor other) => B(Op.Lt, other); public Tensor lt(Scalar other) => BS(Op.Lt, other);
        public Tensor le(Tensor other) => B(Op.Le, other); public Tensor le(Scalar other) => BS(Op.Le, other);
        public Tensor gt(Tensor other) => B(Op.Gt, other); public Tensor gt(Scalar other) => BS(Op.Gt, other);
        public Tensor ge(Tensor other) => B(Op.Ge, other); public Tensor ge(Scalar other) => BS(Op.Ge, other);
        public Tensor logical_and(Tensor other) => B(Op.LogicalAnd, other);
        public Tensor logical_or(Tensor other) => B(Op.LogicalOr, other);
        public Tensor bitwise_and(Tensor other) => B(Op.BitwiseAnd, other);
        public Tensor bitwise_or(Tensor other) => B(Op.BitwiseOr, other);
        public Tensor bitwise_xor(Tensor other) => B(Op.BitwiseXor, other);
        public Tensor matmul(Tensor other) => B(Op.Matmul, other);
        public Tensor bmm(Tensor mat2) => B(Op.Bmm, mat2);
        public Tensor mm(Tensor mat2) => B(Op.Mm, mat2);
        public Tensor copy_(Tensor source) => BI(Op.Copy, source);
        public Tensor fill_(Scalar value) => BSI(Op.Fill, value);

        public Tensor clamp(Scalar? min = null, Scalar? max = null) =>
            Call.Run(Op.Clamp, [this], [min.HasValue ? 1 : 0, max.HasValue ? 1 : 0], [min?.Value ?? 0, max?.Value ?? 0], Call.Mask(min ?? 0.0, max ?? 0.0));
        public Tensor clamp_(Scalar? min = null, Scalar? max = null) =>
            Call.InPlace(Op.Clamp, [this], [min.HasValue ? 1 : 0, max.HasValue ? 1 : 0], [min?.Value ?? 0, max?.Value ?? 0], Call.Mask(min ?? 0.0, max ?? 0.0));
        public Tensor clamp_min(Scalar min) => clamp(min, null);
        public Tensor clamp_max(Scalar max) => clamp(null, max);
        public Tensor clip(Scalar? min = null, Scalar? max = null) => clamp(min, max);
        public Tensor lerp(Tensor end, Scalar weight) => Call.Run(Op.Lerp, [this, end], default, [weight.Value]);
        public Tensor lerp(Tensor end, Tensor weight) => Call.Run(Op.Lerp, [this, end, weight]);
        public Tensor lerp_(Tensor end, Scalar weight) => Call.InPlace(Op.Lerp, [this, end], default, [weight.Value]);
        public Tensor addcmul(Tensor t1, Tensor t2, Scalar value) => Call.Run(Op.Addcmul, [this, t1, t2], default, [value.Value], Call.Mask(value));
        public Tensor addcmul_(Tensor t1, Tensor t2, Scalar value) => Call.InPlace(Op.Addcmul, [this, t1, t2], default, [value.Value], Call.Mask(value));
        public Tensor addcdiv(Tensor t1, Tensor t2, Scalar value) => Call.Run(Op.Addcdiv, [this, t1, t2], default, [value.Value], Call.Mask(value));
        public Tensor addcdiv_(Tensor t1, Tensor t2, Scalar value) => Call.InPlace(Op.Addcdiv, [this, t1, t2], default, [value.Value], Call.Mask(value));

        /// <summary>Elements of this tensor where condition holds, else of other (TorchSharp: x.where(cond, y)).</summary>
        public Tensor where(Tensor condition, Tensor other) => Call.Run(Op.Where, [condition, this, other]);
        public Tensor where(Tensor condition, Scalar other) => Call.Run(Op.Where, [condition, this, null], default, [0, other.Value], Call.Mask(0.0, other));
        public Tensor masked_fill(Tensor mask, Scalar value) => Call.Run(Op.MaskedFill, [this, mask], default, [value.Value], Call.Mask(value));
        public Tensor masked_fill(Tensor mask, Tensor value) => Call.Run(Op.MaskedFill, [this, mask, value]);
        public Tensor masked_fill_(Tensor mask, Scalar value) => Call.InPlace(Op.MaskedFill, [this, mask], default, [value.Value], Call.Mask(value));
        public Tensor gather(long dim, Tensor index) => Call.Run(Op.Gather, [this, index], [dim]);
        public Tensor scatter(long dim, Tensor index, Tensor src) => Call.Run(Op.Scatter, [this, index, src], [dim]);
        public Tensor scatter_(long dim, Tensor index, Tensor src) => Call.InPlace(Op.Scatter, [this, index, src], [dim]);
        public Tensor index_select(long dim, Tensor index) => Call.Run(Op.IndexSelect, [this, index], [dim]);
        public Tensor triu(long diagonal = 0) => Call.Run(Op.Triu, [this], [diagonal]);
        public Tensor tril(long diagonal = 0) => Call.Run(Op.Tril, [this], [diagonal]);
        public Tensor flip(params long[] dims) => Call.Run(Op.Flip, [this], dims);
        public Tensor roll(long[] shifts, long[] dims) => Call.Run(Op.Roll, [this], [.. shifts, .. dims]);
        public Tensor repeat_interleave(long repeats, long? dim = null) => Call.Run(Op.RepeatInterleave, [this], [repeats, dim ?? Call.NoneIndex]);
        public Tensor uniform_(double from = 0, double to = 1, Generator? generator = null) => Call.InPlace(Op.Uniform, [this], default, [from, to], 0, generator);
        public Tensor normal_(double mean = 0, double std = 1, Generator? generator = null) => Call.InPlace(Op.Normal, [this], default, [mean, std], 0, generator);

        /// <summary>Whether |this − other| ≤ atol + rtol·|other| everywhere.</summary>
        public bool allclose(Tensor other, double rtol = 1e-05, double atol = 1e-08)
        {
            using var scope = NewDisposeScope();
            return ((this - other).abs() <= other.abs() * rtol + atol).all().item<bool>();
        }

        // ---- reductions ----
        private Tensor Red(Op op, ReadOnlySpan<long> dims, bool keepdim = false, ScalarType? type = null, bool unbiased = true) =>
            Call.Run(op, [this], Call.ReduceArgs(dims, keepdim, type, unbiased));
        public Tensor sum(ScalarType? type = null) => Red(Op.Sum, default, false, type);
        public Tensor sum(long dim, bool keepdim = false, ScalarType? type = null) => Red(Op.Sum, [dim], keepdim, type);
        public Tensor sum(long[] dims, bool keepdim = false, ScalarType? type = null) => Red(Op.Sum, dims, keepdim, type);
        public Tensor mean(ScalarType? type = null) => Red(Op.Mean, default, false, type);
        public Tensor mean(long[] dimensions, bool keepdim = false, ScalarType? type = null) => Red(Op.Mean, dimensions, keepdim, type);
        public Tensor mean(long dim, bool keepdim = false, ScalarType? type = null) => Red(Op.Mean, [dim], keepdim, type);
        public Tensor std(bool unbiased = true) => Red(Op.Std, default, false, null, unbiased);
        public Tensor std(long dimension, bool unbiased = true, bool keepDimension = false) => Red(Op.Std, [dimension], keepDimension, null, unbiased);
        public Tensor std(long[] dimensions, bool unbiased = true, bool keepDimension = false) => Red(Op.Std, dimensions, keepDimension, null, unbiased);
        public Tensor var(bool unbiased = true) => Red(Op.Var, default, false, null, unbiased);
        public Tensor var(long dimension, bool unbiased = true, bool keepDimension = false) => Red(Op.Var, [dimension], keepDimension, null, unbiased);
        public Tensor var(long[] dimensions, bool unbiased = true, bool keepDimension = false) => Red(Op.Var, dimensions, keepDimension, null, unbiased);
        public Tensor amax(long[] dims, bool keepdim = false) => Red(Op.Amax, dims, keepdim);
        public Tensor amax(params long[] dims) => Red(Op.Amax, dims);
        public Tensor amin(long[] dims, bool keepdim = false) => Red(Op.Amin, dims, keepdim);
        public Tensor amin(params long[] dims) => Red(Op.Amin, dims);
        public Tensor prod(ScalarType? type = null) => Red(Op.Prod, default, false, type);
        public Tensor prod(long dim, bool keepdim = false, ScalarType? type = null) => Red(Op.Prod, [dim], keepdim, type);
        public Tensor norm(double p = 2) => Call.Run(Op.Norm, [this], Call.ReduceArgs(default, false, null), [p]);
        public Tensor norm(long dim, bool keepdim = false, double p = 2) => Call.Run(Op.Norm, [this], Call.ReduceArgs([dim], keepdim, null), [p]);
        public Tensor logsumexp(long dim, bool keepdim = false) => Red(Op.LogSumExp, [dim], keepdim);
        public Tensor argmax() => Red(Op.Argmax, default);
        public Tensor argmax(long dim, bool keepdim = false) => Red(Op.Argmax, [dim], keepdim);
        public Tensor argmin() => Red(Op.Argmin, default);
        public Tensor argmin(long dim, bool keepdim = false) => Red(Op.Argmin, [dim], keepdim);
        public Tensor cumsum(long dim, ScalarType? type = null) => Red(Op.Cumsum, [dim], false, type);
        public Tensor any() => Red(Op.Any, default);
        public Tensor any(long dim, bool keepdim = false) => Red(Op.Any, [dim], keepdim);
        public Tensor all() => Red(Op.All, default);
        public Tensor all(long dim, bool keepdim = false) => Red(Op.All, [dim], keepdim);
        public Tensor max() => U(Op.MaxAll);
        public Tensor min() => U(Op.MinAll);
        public (Tensor values, Tensor indexes) max(long dim, bool keepdim = false) => Two(Op.MaxDim, dim, keepdim);
        public (Tensor values, Tensor indexes) min(long dim, bool keepdim = false) => Two(Op.MinDim, dim, keepdim);
        public (Tensor values, Tensor indices) sort(long dim = -1, bool descending = false) => Two(Op.Sort, dim, descending);
        public (Tensor values, Tensor indices) topk(int k, int dim = -1, bool largest = true, bool sorted = true)
        {
            var r = Call.Multi(Op.Topk, [this], [k, dim, largest ? 1 : 0, sorted ? 1 : 0], 2);
            return (r[0], r[1]);
        }
        private (Tensor, Tensor) Two(Op op, long a, bool b)
        {
            var r = Call.Multi(op, [this], [a, b ? 1 : 0], 2);
            return (r[0], r[1]);
        }

        // ---- shape ----
        public Tensor reshape(params long[] shape) => Call.Run(Op.Reshape, [this], shape);
        public Tensor view(params long[] shape) => Call.Run(Op.View, [this], shape);
        public Tensor view_as(Tensor other) => view(other.shape);
        public Tensor reshape_as(Tensor other) => reshape(other.shape);
        public Tensor permute(params long[] permutation) => Call.Run(Op.Permute, [this], permutation);
        public Tensor expand(params long[] sizes) => Call.Run(Op.Expand, [this], sizes);
        public Tensor expand_as(Tensor other) => expand(other.shape);
        public Tensor broadcast_to(params long[] shape) => expand(shape);
        public Tensor repeat(params long[] repeats) => Call.Run(Op.Repeat, [this], repeats);
        public Tensor flatten(long start_dim = 0, long end_dim = -1) => Call.Run(Op.Flatten, [this], [start_dim, end_dim]);
        public Tensor unflatten(long dim, params long[] sizes)
        {
            var s = shape.ToList();
            int d = (int)(dim < 0 ? dim + s.Count : dim);
            s.RemoveAt(d);
            s.InsertRange(d, sizes);
            return reshape([.. s]);
        }
        public Tensor squeeze() => Call.Run(Op.Squeeze, [this]);
        public Tensor squeeze(long dim) => Call.Run(Op.Squeeze, [this], [dim]);
        public Tensor squeeze_(long dim) => Call.InPlace(Op.Squeeze, [this], [dim]);
        public Tensor unsqueeze(long dim) => Call.Run(Op.Unsqueeze, [this], [dim]);
        public Tensor unsqueeze_(long dim) => Call.InPlace(Op.Unsqueeze, [this], [dim]);
        public Tensor transpose(long dim0, long dim1) => Call.Run(Op.Transpose, [this], [dim0, dim1]);
        public Tensor swapaxes(long dim0, long dim1) => transpose(dim0, dim1);
        public Tensor t() => transpose(0, 1);
        public Tensor T => permute([.. Enumerable.Range(0, (int)dim()).Reverse().Select(i => (long)i)]);
        public Tensor mT => transpose(-2, -1);
        public Tensor as_strided(long[] size, long[] strides, long storageOffset = 0) => Call.Run(Op.AsStrided, [this], [size.Length, .. size, .. strides, storageOffset]);
        public Tensor narrow(long dim, long start, long length) => Call.Run(Op.Narrow, [this], [dim, start, length]);
        public Tensor slice(long dim, long start, long finish, long step) => Call.Run(Op.Slice, [this], [dim, start, finish, step]);
        public Tensor select(long dim, long index) => Call.Run(Op.Select, [this], [dim, index]);
        public Tensor[] chunk(long chunks, long dim = 0) => Call.Multi(Op.Chunk, [this], [chunks, dim], (int)chunks);
        public Tensor[] split(long size, long dim = 0) =>
            Call.Multi(Op.Split, [this], [dim, size], (int)((this.size((int)dim) + size - 1) / Math.Max(size, 1)));
        public Tensor[] split(long[] sizes, long dim = 0) => Call.Multi(Op.Split, [this], [dim, .. sizes], sizes.Length);
        public Tensor[] unbind(long dim = 0) => Call.Multi(Op.Unbind, [this], [dim], (int)size((int)dim));

        // ---- indexing ----
        public Tensor index(params TensorIndex[] indices)
        {
            var ts = new List<Tensor?> { this };
            var enc = TensorIndex.Encode(indices, ts);
            return Call.Run(Op.Index, ts.ToArray(), enc);
        }

        public Tensor index_put_(Tensor value, params TensorIndex[] indices)
        {
            var ts = new List<Tensor?> { this, value };
            var enc = TensorIndex.Encode(indices, ts);
            return Call.InPlace(Op.IndexPut, ts.ToArray(), enc);
        }

        public Tensor index_put_(Scalar value, params TensorIndex[] indices)
        {
            var ts = new List<Tensor?> { this, null };
            var enc = TensorIndex.Encode(indices, ts);
            return Call.InPlace(Op.IndexPut, ts.ToArray(), enc, [value.Value], Call.Mask(value));
        }

        public Tensor this[params long[] indices]
        {
            get => index([.. indices.Select(i => TensorIndex.Single(i))]);
            set => index_put_(value, [.. indices.Select(i => TensorIndex.Single(i))]);
        }

        public Tensor this[params TensorIndex[] indices]
        {
            get => index(indices);
            set => index_put_(value, indices);
        }

        // ---- conversion ----
        private Tensor ToImpl(ScalarType? dtype, Device? dev, bool copy, bool non_blocking = false) =>
            Call.Run(Op.To, [this], [dtype.HasValue ? (long)dtype.Value : -1, dev is null ? -1 : (long)dev.type, dev?.index ?? -1, non_blocking ? 1 : 0, copy ? 1 : 0]);
        public Tensor to(ScalarType type, bool copy = false, bool non_blocking = false) => ToImpl(type, null, copy, non_blocking);
        public Tensor to(Device device, bool copy = false, bool non_blocking = false) => ToImpl(null, device, copy, non_blocking);
        public Tensor to(ScalarType type, Device device, bool copy = false, bool non_blocking = false) => ToImpl(type, device, copy, non_blocking);
        public Tensor to(DeviceType deviceType, int deviceIndex = -1, bool copy = false) => ToImpl(null, new Device(deviceType, deviceIndex), copy);
        public Tensor to(string device) => to(new Device(device));
        public Tensor to(Tensor other) => ToImpl(other.dtype, other.device, false);
        public Tensor type(ScalarType type) => to(type);
        public Tensor type_as(Tensor other) => to(other.dtype);
        public Tensor cpu() => to(CPU);
        public Tensor cuda(int index = -1) => to(new Device(DeviceType.CUDA, index));
        public Tensor @float() => to(ScalarType.Float32);
        public Tensor @double() => to(ScalarType.Float64);
        public Tensor half() => to(ScalarType.Float16);
        public Tensor bfloat16() => to(ScalarType.BFloat16);
        public Tensor @long() => to(ScalarType.Int64);
        public Tensor @int() => to(ScalarType.Int32);
        public Tensor @bool() => to(ScalarType.Bool);
        public Tensor @byte() => to(ScalarType.Byte);

        // ---- operators ----
        public static Tensor operator +(Tensor a, Tensor b) => a.add(b);
        public static Tensor operator +(Tensor a, Scalar b) => a.add(b);
        public static Tensor operator +(Scalar a, Tensor b) => b.add(a);
        public static Tensor operator -(Tensor a, Tensor b) => a.sub(b);
        public static Tensor operator -(Tensor a, Scalar b) => a.sub(b);
        public static Tensor operator -(Scalar a, Tensor b) => Call.Run(Op.Rsub, [b], default, [a.Value], Call.Mask(a));
        public static Tensor operator *(Tensor a, Tensor b) => a.mul(b);
        public static Tensor operator *(Tensor a, Scalar b) => a.mul(b);
        public static Tensor operator *(Scalar a, Tensor b) => b.mul(a);
        public static Tensor operator /(Tensor a, Tensor b) => a.div(b);
        public static Tensor operator /(Tensor a, Scalar b) => a.div(b);
        public static Tensor operator /(Scalar a, Tensor b) => Call.Run(Op.Rdiv, [b], default, [a.Value], Call.Mask(a));
        public static Tensor operator %(Tensor a, Tensor b) => a.remainder(b);
        public static Tensor operator %(Tensor a, Scalar b) => a.remainder(b);
        public static Tensor operator -(Tensor a) => a.neg();
        public static Tensor operator &(Tensor a, Tensor b) => a.bitwise_and(b);
        public static Tensor operator |(Tensor a, Tensor b) => a.bitwise_or(b);
        public static Tensor operator ^(Tensor a, Tensor b) => a.bitwise_xor(b);
        public static Tensor operator ~(Tensor a) => a.bitwise_not();
        public static Tensor operator <(Tensor a, Tensor b) => a.lt(b);
        public static Tensor operator <(Tensor a, Scalar b) => a.lt(b);
        public static Tensor operator >(Tensor a, Tensor b) => a.gt(b);
        public static Tensor operator >(Tensor a, Scalar b) => a.gt(b);
        public static Tensor operator <=(Tensor a, Tensor b) => a.le(b);
        public static Tensor operator <=(Tensor a, Scalar b) => a.le(b);
        public static Tensor operator >=(Tensor a, Tensor b) => a.ge(b);
        public static Tensor operator >=(Tensor a, Scalar b) => a.ge(b);

        /// <summary>Scalar raised to a tensor power (torch.pow(scalar, tensor)).</summary>
        internal static Tensor RPow(Scalar a, Tensor b) => Call.Run(Op.Rpow, [b], default, [a.Value], Call.Mask(a));
    }
}
