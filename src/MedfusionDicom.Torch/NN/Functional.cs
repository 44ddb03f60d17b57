using MedfusionDicom.Torch.Native;

namespace MedfusionDicom.Torch;

/// <summary>Interpolation modes of interpolate/Upsample (TorchSharp's names).</summary>
public enum InterpolationMode { Nearest = 0, Linear = 1, Bilinear = 2, Bicubic = 3, Trilinear = 4, Area = 5, NearestExact = 6 }

/// <summary>Padding modes of pad and the convolutions (TorchSharp's names).</summary>
public enum PaddingModes { Zeros = 0, Reflect = 1, Replicate = 2, Circular = 3, Constant = 4 }

public static partial class torch
{
    public static partial class nn
    {
        /// <summary>Loss reduction; the values are libtorch's (at::Reduction).</summary>
        public enum Reduction { None = 0, Mean = 1, Sum = 2 }

        public static partial class functional
        {
            private static long[] Expand(long[]? v, int n, long fill)
            {
                if (v is null || v.Length == 0) return Enumerable.Repeat(fill, n).ToArray();
                if (v.Length == 1) return Enumerable.Repeat(v[0], n).ToArray();
                if (v.Length != n) throw new TorchException($"expected {n} values (or 1), got {v.Length}");
                return v;
            }

            private static Tensor Conv(Tensor input, Tensor weight, Tensor? bias, int n, bool transposed, long[]? stride, long[]? padding,
                long[]? dilation, long[]? output_padding, long groups)
            {
                long[] args = [transposed ? 1 : 0, n, .. Expand(stride, n, 1), .. Expand(padding, n, 0), .. Expand(dilation, n, 1),
                    .. Expand(output_padding, n, 0), groups];
                return Call.Run(Op.Conv, [input, weight, bias], args);
            }

            public static Tensor conv1d(Tensor input, Tensor weight, Tensor? bias = null, long[]? strides = null, long[]? padding = null, long[]? dilation = null, long groups = 1) =>
                Conv(input, weight, bias, 1, false, strides, padding, dilation, null, groups);
            public static Tensor conv2d(Tensor input, Tensor weight, Tensor? bias = null, long[]? strides = null, long[]? padding = null, long[]? dilation = null, long groups = 1) =>
                Conv(input, weight, bias, 2, false, strides, padding, dilation, null, groups);
            public static Tensor conv3d(Tensor input, Tensor weight, Tensor? bias = null, long[]? strides = null, long[]? padding = null, long[]? dilation = null, long groups = 1) =>
                Conv(input, weight, bias, 3, false, strides, padding, dilation, null, groups);
            public static Tensor conv_transpose2d(Tensor input, Tensor weight, Tensor? bias = null, long[]? stride = null, long[]? padding = null, long[]? output_padding = null, long groups = 1, long[]? dilation = null) =>
                Conv(input, weight, bias, 2, true, stride, padding, dilation, output_padding, groups);
            public static Tensor conv_transpose1d(Tensor input, Tensor weight, Tensor? bias = null, long[]? stride = null, long[]? padding = null, long[]? output_padding = null, long groups = 1, long[]? dilation = null) =>
                Conv(input, weight, bias, 1, true, stride, padding, dilation, output_padding, groups);

            public static Tensor group_norm(Tensor input, long num_groups, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5) =>
                Call.Run(Op.GroupNorm, [input, weight, bias], [num_groups], [eps]);
            public static Tensor layer_norm(Tensor input, long[] normalized_shape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5) =>
                Call.Run(Op.LayerNorm, [input, weight, bias], normalized_shape, [eps]);
            public static Tensor batch_norm(Tensor input, Tensor? running_mean, Tensor? running_var, Tensor? weight = null, Tensor? bias = null, bool training = false, double momentum = 0.1, double eps = 1e-5) =>
                Call.Run(Op.BatchNorm, [input, weight, bias, running_mean, running_var], [training ? 1 : 0], [momentum, eps]);
            public static Tensor linear(Tensor input, Tensor weights, Tensor? bias = null) => Call.Run(Op.Linear, [input, weights, bias]);

            public static Tensor silu(Tensor x, bool inplace = false) => inplace ? x.silu_() : x.silu();
            public static Tensor relu(Tensor x, bool inplace = false) => inplace ? x.relu_() : x.relu();
            public static Tensor sigmoid(Tensor x) => x.sigmoid();
            public static Tensor tanh(Tensor x) => x.tanh();
            /// <summary>GELU; approximate: "none" (exact, erf) or "tanh".</summary>
            public static Tensor gelu(Tensor x, string approximate = "none") => Call.Run(Op.Gelu, [x], [GeluApprox(approximate)]);
            private static long GeluApprox(string a) => a switch { "none" => 0, "tanh" => 1, _ => throw new TorchException($"approximate argument must be either none or tanh, got {a}") };
            public static Tensor leaky_relu(Tensor input, double negative_slope = 0.01, bool inplace = false) =>
                inplace ? Call.InPlace(Op.LeakyRelu, [input], default, [negative_slope]) : Call.Run(Op.LeakyRelu, [input], default, [negative_slope]);
            public static Tensor elu(Tensor x, double alpha = 1.0) => Call.Run(Op.Elu, [x], default, [alpha]);
            public static Tensor softplus(Tensor x, double beta = 1, double threshold = 20) => Call.Run(Op.Softplus, [x], default, [beta, threshold]);
            public static Tensor hardtanh(Tensor x, double min_val = -1, double max_val = 1) => Call.Run(Op.Hardtanh, [x], default, [min_val, max_val]);
            public static Tensor softmax(Tensor input, long dim, ScalarType? dtype = null) => Call.Run(Op.Softmax, [input], [dim, dtype.HasValue ? (long)dtype.Value : -1]);
            public static Tensor log_softmax(Tensor input, long dim, ScalarType? dtype = null) => Call.Run(Op.LogSoftmax, [input], [dim, dtype.HasValue ? (long)dtype.Value : -1]);
            public static Tensor dropout(Tensor input, double p = 0.5, bool training = true, bool inplace = false)
            {
                if (p < 0 || p > 1) throw new TorchException($"dropout probability has to be between 0 and 1, but got {p}");
                return inplace ? Call.InPlace(Op.Dropout, [input], [training ? 1 : 0], [p]) : Call.Run(Op.Dropout, [input], [training ? 1 : 0], [p]);
            }
            public static Tensor embedding(Tensor input, Tensor weight, long? padding_idx = null) => Call.Run(Op.Embedding, [weight, input], [padding_idx ?? -1]);

            /// <summary>Resizes by size or scale_factor (one of them), as torch.nn.functional.interpolate.</summary>
            public static Tensor interpolate(Tensor x, long[]? size = null, double[]? scale_factor = null, InterpolationMode mode = InterpolationMode.Nearest,
                bool? align_corners = null, bool recompute_scale_factor = false)
            {
                int sd = (int)x.dim() - 2;
                if (size is not null && size.Length == 1 && sd > 1) size = Enumerable.Repeat(size[0], sd).ToArray();
                if (scale_factor is not null && scale_factor.Length == 1 && sd > 1) scale_factor = Enumerable.Repeat(scale_factor[0], sd).ToArray();
                if (scale_factor is not null && recompute_scale_factor)
                {
                    var s = x.shape;
                    size = Enumerable.Range(0, sd).Select(k => (long)Math.Floor(s[k + 2] * scale_factor[k])).ToArray();
                    scale_factor = null;
                }
                bool linearLike = mode is InterpolationMode.Linear or InterpolationMode.Bilinear or InterpolationMode.Bicubic or InterpolationMode.Trilinear;
                long ac = align_corners is null ? (linearLike ? 0 : -1) : align_corners.Value ? 1 : 0;
                long[] args = [(long)mode, ac, size?.Length ?? 0, .. size ?? []];
                return Call.Run(Op.Interpolate, [x], args, scale_factor ?? []);
            }

            public static Tensor avg_pool2d(Tensor input, long[] kernelSize, long[]? strides = null, long[]? paddings = null, bool ceil_mode = false, bool count_include_pad = true, long? divisor_override = null)
            {
                var k = Expand(kernelSize, 2, 1);
                long[] args = [.. k, .. (strides is null || strides.Length == 0 ? k : Expand(strides, 2, 1)), .. Expand(paddings, 2, 0),
                    ceil_mode ? 1 : 0, count_include_pad ? 1 : 0, divisor_override ?? 0];
                return Call.Run(Op.AvgPool2d, [input], args);
            }
            public static Tensor avg_pool2d(Tensor input, long kernelSize, long? stride = null, long padding = 0, bool ceil_mode = false, bool count_include_pad = true) =>
                avg_pool2d(input, [kernelSize], stride.HasValue ? [stride.Value] : null, [padding], ceil_mode, count_include_pad);
            public static Tensor max_pool2d(Tensor input, long[] kernelSize, long[]? strides = null, long[]? padding = null, long[]? dilation = null, bool ceil_mode = false)
            {
                var k = Expand(kernelSize, 2, 1);
                long[] args = [.. k, .. (strides is null || strides.Length == 0 ? k : Expand(strides, 2, 1)), .. Expand(padding, 2, 0), .. Expand(dilation, 2, 1), ceil_mode ? 1 : 0];
                return Call.Run(Op.MaxPool2d, [input], args);
            }
            public static Tensor adaptive_avg_pool2d(Tensor input, long[] outputSize) => Call.Run(Op.AdaptiveAvgPool2d, [input], Expand(outputSize, 2, 1));

            /// <summary>Pads the last dimensions: pad = {left, right, top, bottom, ...} as torch.nn.functional.pad.</summary>
            public static Tensor pad(Tensor input, long[] pad, PaddingModes mode = PaddingModes.Constant, double value = 0) =>
                Call.Run(Op.Pad, [input], [(long)mode, .. pad], [value]);

            public static Tensor mse_loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean) => Call.Run(Op.MseLoss, [input, target], [(long)reduction]);
            public static Tensor l1_loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean) => Call.Run(Op.L1Loss, [input, target], [(long)reduction]);
            public static Tensor smooth_l1_loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, double beta = 1.0) => Call.Run(Op.SmoothL1Loss, [input, target], [(long)reduction], [beta]);
            public static Tensor binary_cross_entropy_with_logits(Tensor input, Tensor target, Tensor? weight = null, Reduction reduction = Reduction.Mean, Tensor? pos_weights = null) =>
                Call.Run(Op.BceWithLogits, [input, target, weight, pos_weights], [(long)reduction]);
            public static Tensor cross_entropy(Tensor input, Tensor target, Tensor? weight = null, long ignore_index = -100, Reduction reduction = Reduction.Mean, double label_smoothing = 0.0) =>
                Call.Run(Op.CrossEntropy, [input, target, weight], [(long)reduction, ignore_index], [label_smoothing]);

            /// <summary>softmax(q kᵀ · scale + mask) v, composed of the ops above (libtorch 1.13 has no fused kernel).</summary>
            public static Tensor scaled_dot_product_attention(Tensor query, Tensor key, Tensor value, Tensor? attn_mask = null, double p = 0.0, bool is_causal = false, double? scale = null)
            {
                using var scope = NewDisposeScope();
                double s = scale ?? 1.0 / Math.Sqrt(query.size(-1));
                var scores = query.matmul(key.transpose(-2, -1)).mul(s);
                if (is_causal)
                {
                    long l = query.size(-2), m = key.size(-2);
                    var keep = ones([l, m], ScalarType.Bool, query.device).tril();
                    scores = scores.masked_fill(keep.logical_not(), double.NegativeInfinity);
                }
                if (attn_mask is not null)
                    scores = attn_mask.dtype == ScalarType.Bool ? scores.masked_fill(attn_mask.logical_not(), double.NegativeInfinity) : scores.add(attn_mask);
                var attn = softmax(scores, -1);
                if (p > 0) attn = dropout(attn, p, true);
                return attn.matmul(value).MoveToOuterDisposeScope();
            }
        }
    }
}
