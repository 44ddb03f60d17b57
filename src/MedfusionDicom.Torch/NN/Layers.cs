using System.Collections;
using static MedfusionDicom.Torch.torch;
using F = MedfusionDicom.Torch.torch.nn.functional;

namespace MedfusionDicom.Torch.Modules
{
    public sealed class Linear : nn.Module<Tensor, Tensor>
    {
        public Parameter weight;
        public Parameter? bias;
        public long in_features { get; }
        public long out_features { get; }

        internal Linear(long inputSize, long outputSize, bool hasBias, Device? device, ScalarType? dtype) : base(nameof(Linear))
        {
            in_features = inputSize;
            out_features = outputSize;
            weight = new Parameter(empty([outputSize, inputSize], dtype, device));
            bias = hasBias ? new Parameter(empty([outputSize], dtype, device)) : null;
            nn.init.DefaultLayerInit(weight, bias, inputSize);
            RegisterComponents();
        }

        public override Tensor forward(Tensor input) => F.linear(input, weight, bias);
    }

    /// <summary>Conv2d and ConvTranspose2d: weight, optional bias, and the convolution's geometry.</summary>
    public abstract class ConvolutionBase : nn.Module<Tensor, Tensor>
    {
        public Parameter weight;
        public Parameter? bias;
        public long[] stride { get; }
        public long[] padding { get; }
        public long[] dilation { get; }
        public long groups { get; }

        protected ConvolutionBase(string name, long[] weightShape, bool hasBias, long outChannels, long fanIn, long[] stride, long[] padding, long[] dilation,
            long groups, Device? device, ScalarType? dtype) : base(name)
        {
            this.stride = stride;
            this.padding = padding;
            this.dilation = dilation;
            this.groups = groups;
            weight = new Parameter(empty(weightShape, dtype, device));
            bias = hasBias ? new Parameter(empty([outChannels], dtype, device)) : null;
            nn.init.DefaultLayerInit(weight, bias, fanIn);
            RegisterComponents();
        }
    }

    public sealed class Conv2d : ConvolutionBase
    {
        public PaddingModes padding_mode { get; }

        internal Conv2d(long inC, long outC, (long, long) k, (long, long) s, (long, long) p, (long, long) d, PaddingModes mode, long groups, bool bias, Device? device, ScalarType? dtype)
            : base(nameof(Conv2d), [outC, inC / groups, k.Item1, k.Item2], bias, outC, inC / groups * k.Item1 * k.Item2,
                [s.Item1, s.Item2], [p.Item1, p.Item2], [d.Item1, d.Item2], groups, device, dtype)
        {
            if (inC % groups != 0 || outC % groups != 0) throw new TorchException("in_channels and out_channels must be divisible by groups");
            padding_mode = mode;
        }

        public override Tensor forward(Tensor input)
        {
            if (padding_mode is PaddingModes.Zeros or PaddingModes.Constant)
                return F.conv2d(input, weight, bias, stride, padding, dilation, groups);
            using var padded = F.pad(input, [padding[1], padding[1], padding[0], padding[0]], padding_mode);
            return F.conv2d(padded, weight, bias, stride, [0], dilation, groups);
        }
    }

    public sealed class ConvTranspose2d : ConvolutionBase
    {
        public long[] output_padding { get; }

        internal ConvTranspose2d(long inC, long outC, (long, long) k, (long, long) s, (long, long) p, (long, long) op, (long, long) d, long groups, bool bias, Device? device, ScalarType? dtype)
            : base(nameof(ConvTranspose2d), [inC, outC / groups, k.Item1, k.Item2], bias, outC, outC / groups * k.Item1 * k.Item2,
                [s.Item1, s.Item2], [p.Item1, p.Item2], [d.Item1, d.Item2], groups, device, dtype)
        {
            output_padding = [op.Item1, op.Item2];
        }

        public override Tensor forward(Tensor input) => F.conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation);
    }

    public sealed class GroupNorm : nn.Module<Tensor, Tensor>
    {
        public Parameter? weight;
        public Parameter? bias;
        public long num_groups { get; }
        public double eps { get; }

        internal GroupNorm(long numGroups, long numChannels, double eps, bool affine, Device? device, ScalarType? dtype) : base(nameof(GroupNorm))
        {
            if (numChannels % numGroups != 0) throw new TorchException("num_channels must be divisible by num_groups");
            num_groups = numGroups;
            this.eps = eps;
            if (affine)
            {
                weight = new Parameter(ones([numChannels], dtype, device));
                bias = new Parameter(zeros([numChannels], dtype, device));
            }
            RegisterComponents();
        }

        public override Tensor forward(Tensor input) => F.group_norm(input, num_groups, weight, bias, eps);
    }

    public sealed class LayerNorm : nn.Module<Tensor, Tensor>
    {
        public Parameter? weight;
        public Parameter? bias;
        public long[] normalized_shape { get; }
        public double eps { get; }

        internal LayerNorm(long[] shape, double eps, bool affine, bool hasBias, Device? device, ScalarType? dtype) : base(nameof(LayerNorm))
        {
            normalized_shape = shape;
            this.eps = eps;
            if (affine)
            {
                weight = new Parameter(ones(shape, dtype, device));
                if (hasBias) bias = new Parameter(zeros(shape, dtype, device));
            }
            RegisterComponents();
        }

        public override Tensor forward(Tensor input) => F.layer_norm(input, normalized_shape, weight, bias, eps);
    }

    public sealed class Embedding : nn.Module<Tensor, Tensor>
    {
        public Parameter weight;
        public long? padding_idx { get; }

        internal Embedding(long num, long dims, long? paddingIdx, Device? device, ScalarType? dtype) : base(nameof(Embedding))
        {
            padding_idx = paddingIdx is < 0 ? paddingIdx + num : paddingIdx;
            weight = new Parameter(empty([num, dims], dtype, device));
            nn.init.normal_(weight);
            if (padding_idx.HasValue) using (no_grad()) { using var row = weight[padding_idx.Value]; row.zero_(); }
            RegisterComponents();
        }

        public override Tensor forward(Tensor input) => F.embedding(input, weight, padding_idx);
    }

    public sealed class Dropout : nn.Module<Tensor, Tensor>
    {
        public double p { get; }
        public bool inplace { get; }
        internal Dropout(double p, bool inplace) : base(nameof(Dropout)) { this.p = p; this.inplace = inplace; }
        public override Tensor forward(Tensor input) => F.dropout(input, p, training, inplace);
    }

    /// <summary>A parameterless module applying a function (activations, Identity, Upsample, Flatten).</summary>
    public sealed class Lambda : nn.Module<Tensor, Tensor>
    {
        private readonly Func<Tensor, Tensor> fn;
        internal Lambda(string name, Func<Tensor, Tensor> fn) : base(name) { this.fn = fn; }
        public override Tensor forward(Tensor input) => fn(input);
    }

    public sealed class Sequential : nn.Module<Tensor, Tensor>
    {
        private readonly List<nn.Module<Tensor, Tensor>> layers = new();
        internal Sequential(IEnumerable<(string name, nn.Module<Tensor, Tensor> module)> modules) : base(nameof(Sequential))
        {
            foreach (var (n, m) in modules) append(n, m);
        }

        public Sequential append(nn.Module<Tensor, Tensor> module) => append(layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module);
        public Sequential append(string name, nn.Module<Tensor, Tensor> module)
        {
            register_module(name, module);
            layers.Add(module);
            return this;
        }

        public int Count => layers.Count;
        public nn.Module<Tensor, Tensor> this[int index] => layers[index];

        public override Tensor forward(Tensor input)
        {
            if (layers.Count == 0) return input.alias();
            var x = layers[0].call(input);
            for (int k = 1; k < layers.Count; k++)
            {
                var y = layers[k].call(x);
                if (!ReferenceEquals(x, y)) x.Dispose(); // an intermediate: autograd keeps what it needs natively
                x = y;
            }
            return x;
        }
    }

    public sealed class ModuleList<T> : nn.Module, IList<T> where T : nn.Module
    {
        private readonly List<T> items = new();
        internal ModuleList(IEnumerable<T> modules) : base("ModuleList") { foreach (var m in modules) Add(m); }

        public T this[int index]
        {
            get => items[index];
            set { items[index] = value; register_module(index.ToString(System.Globalization.CultureInfo.InvariantCulture), value); }
        }
        public int Count => items.Count;
        public bool IsReadOnly => false;
        public void Add(T item) { register_module(items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), item); items.Add(item); }
        public ModuleList<T> append(T item) { Add(item); return this; }
        public bool Contains(T item) => items.Contains(item);
        public void CopyTo(T[] array, int arrayIndex) => items.CopyTo(array, arrayIndex);
        public IEnumerator<T> GetEnumerator() => items.GetEnumerator();
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
        public int IndexOf(T item) => items.IndexOf(item);
        public void Insert(int index, T item) => throw new NotSupportedException("ModuleList: insert would renumber registered modules; use Add");
        public bool Remove(T item) => throw new NotSupportedException("ModuleList: remove would renumber registered modules");
        public void RemoveAt(int index) => throw new NotSupportedException("ModuleList: remove would renumber registered modules");
        public void Clear() => throw new NotSupportedException("ModuleList: clear would renumber registered modules");
    }
}

namespace MedfusionDicom.Torch
{
    using MedfusionDicom.Torch.Modules;

    public static partial class torch
    {
        public static partial class nn
        {
            public static Linear Linear(long inputSize, long outputSize, bool hasBias = true, Device? device = null, ScalarType? dtype = null) =>
                new(inputSize, outputSize, hasBias, device, dtype);

            public static Conv2d Conv2d(long in_channels, long out_channels, long kernelSize, long stride = 1, long padding = 0, long dilation = 1,
                PaddingModes padding_mode = PaddingModes.Zeros, long groups = 1, bool bias = true, Device? device = null, ScalarType? dtype = null) =>
                new(in_channels, out_channels, (kernelSize, kernelSize), (stride, stride), (padding, padding), (dilation, dilation), padding_mode, groups, bias, device, dtype);

            public static Conv2d Conv2d(long in_channels, long out_channels, (long, long) kernelSize, (long, long)? stride = null, (long, long)? padding = null,
                (long, long)? dilation = null, PaddingModes padding_mode = PaddingModes.Zeros, long groups = 1, bool bias = true, Device? device = null, ScalarType? dtype = null) =>
                new(in_channels, out_channels, kernelSize, stride ?? (1, 1), padding ?? (0, 0), dilation ?? (1, 1), padding_mode, groups, bias, device, dtype);

            public static ConvTranspose2d ConvTranspose2d(long in_channels, long out_channels, long kernelSize, long stride = 1, long padding = 0, long output_padding = 0,
                long dilation = 1, PaddingModes padding_mode = PaddingModes.Zeros, long groups = 1, bool bias = true, Device? device = null, ScalarType? dtype = null) =>
                new(in_channels, out_channels, (kernelSize, kernelSize), (stride, stride), (padding, padding), (output_padding, output_padding), (dilation, dilation), groups, bias, device, dtype);

            public static GroupNorm GroupNorm(long num_groups, long num_channels, double eps = 1e-05, bool affine = true, Device? device = null, ScalarType? dtype = null) =>
                new(num_groups, num_channels, eps, affine, device, dtype);

            public static LayerNorm LayerNorm(long[] normalized_shape, double eps = 1e-05, bool elementwise_affine = true, bool bias = true, Device? device = null, ScalarType? dtype = null) =>
                new(normalized_shape, eps, elementwise_affine, bias, device, dtype);

            public static LayerNorm LayerNorm(long normalized_shape, double eps = 1e-05, bool elementwise_affine = true, bool bias = true, Device? device = null, ScalarType? dtype = null) =>
                new([normalized_shape], eps, elementwise_affine, bias, device, dtype);

            public static Embedding Embedding(long num_embeddings, long embedding_dims, long? padding_idx = null, Device? device = null, ScalarType? dtype = null) =>
                new(num_embeddings, embedding_dims, padding_idx, device, dtype);

            public static Dropout Dropout(double p = 0.5, bool inplace = false) => new(p, inplace);
            public static Lambda SiLU(bool inplace = false) => new(nameof(SiLU), x => functional.silu(x, inplace));
            public static Lambda ReLU(bool inplace = false) => new(nameof(ReLU), x => functional.relu(x, inplace));
            public static Lambda GELU(string approximate = "none") => new(nameof(GELU), x => functional.gelu(x, approximate));
            public static Lambda LeakyReLU(double negative_slope = 0.01, bool inplace = false) => new(nameof(LeakyReLU), x => functional.leaky_relu(x, negative_slope, inplace));
            public static Lambda Sigmoid() => new(nameof(Sigmoid), x => x.sigmoid());
            public static Lambda Tanh() => new(nameof(Tanh), x => x.tanh());
            public static Lambda Identity() => new(nameof(Identity), x => x.alias());
            public static Lambda Flatten(long start_dim = 1, long end_dim = -1) => new(nameof(Flatten), x => x.flatten(start_dim, end_dim));
            public static Lambda Softmax(long dim) => new(nameof(Softmax), x => functional.softmax(x, dim));
            public static Lambda Upsample(double[]? scale_factor = null, long[]? size = null, InterpolationMode mode = InterpolationMode.Nearest, bool? align_corners = null) =>
                new(nameof(Upsample), x => functional.interpolate(x, size, scale_factor, mode, align_corners));

            public static Sequential Sequential(params (string name, Module<Tensor, Tensor> submodule)[] modules) => new(modules);
            public static Sequential Sequential(params Module<Tensor, Tensor>[] modules) =>
                new(modules.Select((m, k) => (k.ToString(System.Globalization.CultureInfo.InvariantCulture), m)));
            public static Sequential Sequential(IEnumerable<Module<Tensor, Tensor>> modules) => Sequential(modules.ToArray());

            public static ModuleList<T> ModuleList<T>(params T[] modules) where T : Module => new(modules);
        }
    }
}
