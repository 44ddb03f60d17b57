using TorchSharp;
using TorchSharp.Modules;
using MedfusionDicom.Torch.Optim;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MedfusionDicom.Torch.Tests;

/// <summary>An input of a parity case; Grad: a leaf whose gradient is compared.</summary>
public sealed record Input(Tensor Value, bool Grad);

/// <summary>A parity case: Python code assigning <c>out</c> from inputs a, b, c, ... and our equivalent.</summary>
public sealed record Case(string Name, string Code, Func<Tensor[], Tensor> Ours, Input[] Inputs);

/// <summary>Every operator of issue 3 against PyTorch, forward and backward.</summary>
public static class ParityCases
{
    private sealed class Builder
    {
        private readonly Generator g = new(1234);
        public readonly List<Case> Cases = new();
        public Input R(params long[] s) => new(randn(s, generator: g), true);
        public Input R64(params long[] s) => new(randn(s, float64, generator: g), true);
        public Input P(params long[] s) { using var r = rand(s, generator: g); return new(r + 0.5, true); }
        public Input I(long high, params long[] s) => new(randint(0, high, s, generator: g), false);
        public Input M(params long[] s) { using var r = rand(s, generator: g); return new(r > 0.5, false); }
        public static Input N(Input i) => i with { Grad = false };
        public void Add(string name, string code, Func<Tensor[], Tensor> ours, params Input[] inputs) => Cases.Add(new Case(name, code, ours, inputs));
    }

    public static List<Case> Build()
    {
        var b = new Builder();
        // ---- arithmetic, broadcasting, scalars ----
        b.Add("add_broadcast", "out = a + b", x => x[0] + x[1], b.R(2, 3, 4), b.R(3, 1));
        b.Add("add_alpha", "out = torch.add(a, b, alpha=0.5)", x => x[0].add(x[1], 0.5), b.R(3, 4), b.R(4));
        b.Add("sub_scalars", "out = 2.5 - a - b * 3", x => 2.5 - x[0] - x[1] * 3, b.R(3, 4), b.R(3, 4));
        b.Add("mul_div", "out = a * b / (c.abs() + 1)", x => x[0] * x[1] / (x[2].abs() + 1), b.R(2, 5), b.R(5), b.R(2, 1));
        b.Add("rdiv", "out = 1.5 / (a.abs() + 1)", x => 1.5 / (x[0].abs() + 1), b.R(4, 3));
        b.Add("neg", "out = -a", x => -x[0], b.R(3, 3));
        b.Add("int_scalar_keeps_int", "out = a * 2 + 1", x => x[0] * 2 + 1, b.I(10, 5));
        b.Add("int_float_scalar_promotes", "out = a * 0.5", x => x[0] * 0.5, b.I(10, 5));
        b.Add("matmul_broadcast", "out = a @ b", x => x[0].matmul(x[1]), b.R(3, 4, 5), b.R(5, 6));
        b.Add("bmm", "out = torch.bmm(a, b)", x => bmm(x[0], x[1]), b.R(2, 3, 4), b.R(2, 4, 5));
        // ---- shape ----
        b.Add("reshape_view", "out = a.reshape(6, 4).view(4, 6) * 2", x => x[0].reshape(6, 4).view(4, 6) * 2, b.R(2, 3, 4));
        b.Add("permute_transpose", "out = a.permute(2, 0, 1).transpose(0, 1).contiguous()", x => x[0].permute(2, 0, 1).transpose(0, 1).contiguous(), b.R(2, 3, 4));
        b.Add("flatten_squeeze_unsqueeze", "out = a.unsqueeze(1).flatten(2).squeeze(1)", x => x[0].unsqueeze(1).flatten(2).squeeze(1), b.R(2, 3, 4));
        b.Add("expand_repeat", "out = a.expand(2, 3, 4) * b.repeat(1, 1, 2)", x => x[0].expand(2, 3, 4) * x[1].repeat(1, 1, 2), b.R(1, 3, 4), b.R(2, 3, 2));
        b.Add("cat", "out = torch.cat([a, b], 1)", x => cat([x[0], x[1]], 1), b.R(2, 3), b.R(2, 5));
        b.Add("stack", "out = torch.stack([a, b], 1)", x => stack([x[0], x[1]], 1), b.R(2, 3), b.R(2, 3));
        b.Add("chunk", "c = a.chunk(3, 1); out = torch.cat([c[2], c[0] * 2], 1)", x => { var c = x[0].chunk(3, 1); return cat([c[2], c[0] * 2], 1); }, b.R(2, 6, 3));
        b.Add("split", "s = a.split([1, 2], 2); out = s[1] * 3 + s[0]", x => { var s = x[0].split([1L, 2], 2); return s[1] * 3 + s[0]; }, b.R(2, 6, 3));
        b.Add("split_size", "s = a.split(2, 0); out = s[2] - s[0]", x => { var s = x[0].split(2, 0); return s[2] - s[0]; }, b.R(6, 3));
        b.Add("index_slices", "out = a[1:3, ..., ::2] * 2", x => x[0][1..3, TensorIndex.Ellipsis, TensorIndex.Slice(null, null, 2)] * 2, b.R(4, 3, 6));
        b.Add("index_int_none", "out = a[:, 0, None]", x => x[0][.., 0, TensorIndex.None], b.R(4, 3, 2));
        b.Add("index_negative", "out = a[-1, -2:]", x => x[0][-1, ^2..], b.R(4, 5));
        b.Add("index_tensor", "out = a[b]", x => x[0][x[1]], b.R(5, 3), b.I(5, 4));
        b.Add("index_put", "c2 = a.clone(); c2[1:3] = b; out = c2", x => { var c = x[0].clone(); c[1..3] = x[1]; return c; }, b.R(4, 3), b.R(2, 3));
        b.Add("select_narrow", "out = a.select(1, 2) + a.narrow(1, 0, 1).squeeze(1)", x => x[0].select(1, 2) + x[0].narrow(1, 0, 1).squeeze(1), b.R(3, 4));
        // ---- reductions ----
        b.Add("mean_all", "out = a.mean()", x => x[0].mean(), b.R(3, 4, 5));
        b.Add("mean_dims_keepdim", "out = a.mean([1, 2], keepdim=True)", x => x[0].mean([1L, 2], true), b.R(3, 4, 5));
        b.Add("sum_all", "out = a.sum()", x => x[0].sum(), b.R(3, 4));
        b.Add("sum_dim", "out = a.sum(1)", x => x[0].sum(1), b.R(3, 4, 2));
        b.Add("std_all", "out = a.std()", x => x[0].std(), b.R(4, 5));
        b.Add("std_dim_biased", "out = a.std(1, unbiased=False, keepdim=True)", x => x[0].std(1, false, true), b.R(4, 5));
        b.Add("var_dim", "out = a.var(0)", x => x[0].var(0), b.R(4, 5));
        b.Add("max_min_all", "out = torch.stack([a.max(), a.min()])", x => stack([x[0].max(), x[0].min()]), b.R(4, 5));
        b.Add("max_dim_values", "out = a.max(1).values + a.min(0, keepdim=True).values", x => x[0].max(1).values + x[0].min(0, true).values, b.R(4, 4));
        b.Add("max_dim_indices", "out = a.max(1).indices", x => x[0].max(1).indexes, Builder.N(b.R(4, 5)));
        b.Add("amax", "out = a.amax((0, 2), keepdim=True)", x => x[0].amax([0L, 2], true), b.R(3, 4, 5));
        b.Add("argmax", "out = a.argmax(1)", x => x[0].argmax(1), Builder.N(b.R(3, 7)));
        // ---- elementwise ----
        b.Add("clamp", "out = a.clamp(-0.5, 0.7)", x => x[0].clamp(-0.5, 0.7), b.R(5, 5));
        b.Add("clamp_min", "out = a.clamp(min=0.1)", x => x[0].clamp_min(0.1), b.R(5, 5));
        b.Add("exp", "out = a.exp()", x => x[0].exp(), b.R(3, 4));
        b.Add("log", "out = a.log()", x => x[0].log(), b.P(3, 4));
        b.Add("sqrt", "out = a.sqrt()", x => x[0].sqrt(), b.P(3, 4));
        b.Add("rsqrt", "out = a.rsqrt()", x => x[0].rsqrt(), b.P(3, 4));
        b.Add("pow_scalar", "out = a.pow(2.5)", x => x[0].pow(2.5), b.P(3, 4));
        b.Add("pow_tensor", "out = a.pow(b)", x => x[0].pow(x[1]), b.P(3, 4), b.R(3, 4));
        b.Add("pow_scalar_base", "out = torch.pow(2.0, a)", x => pow(2.0, x[0]), b.R(3, 4));
        b.Add("abs", "out = a.abs()", x => x[0].abs(), b.R(3, 4));
        b.Add("sin_cos", "out = a.sin() * b.cos()", x => x[0].sin() * x[1].cos(), b.R(3, 4), b.R(3, 4));
        b.Add("where", "out = torch.where(a, b, c)", x => where(x[0], x[1], x[2]), b.M(3, 4), b.R(3, 4), b.R(4));
        b.Add("masked_fill", "out = b.masked_fill(a, -1.5)", x => x[1].masked_fill(x[0], -1.5), b.M(3, 4), b.R(3, 4));
        b.Add("gather", "out = a.gather(1, b)", x => x[0].gather(1, x[1]), b.R(3, 4), b.I(4, 3, 2));
        // ---- torch.nn.functional ----
        b.Add("conv2d_stride_pad", "out = F.conv2d(a, b, c, stride=2, padding=1)", x => F.conv2d(x[0], x[1], x[2], [2], [1]), b.R(2, 4, 9, 9), b.R(6, 4, 3, 3), b.R(6));
        b.Add("conv2d_groups_dilation", "out = F.conv2d(a, b, None, padding=2, dilation=2, groups=2)", x => F.conv2d(x[0], x[1], null, null, [2], [2], 2), b.R(2, 4, 8, 8), b.R(6, 2, 3, 3));
        b.Add("conv_transpose2d", "out = F.conv_transpose2d(a, b, c, stride=2, padding=1, output_padding=1)", x => F.conv_transpose2d(x[0], x[1], x[2], [2], [1], [1]), b.R(2, 4, 5, 5), b.R(4, 3, 3, 3), b.R(3));
        b.Add("group_norm", "out = F.group_norm(a, 2, b, c, eps=1e-5)", x => F.group_norm(x[0], 2, x[1], x[2], 1e-5), b.R(2, 4, 5, 5), b.R(4), b.R(4));
        b.Add("layer_norm", "out = F.layer_norm(a, (8,), b, c)", x => F.layer_norm(x[0], [8], x[1], x[2]), b.R(3, 5, 8), b.R(8), b.R(8));
        b.Add("linear", "out = F.linear(a, b, c)", x => F.linear(x[0], x[1], x[2]), b.R(3, 5, 8), b.R(6, 8), b.R(6));
        b.Add("silu", "out = F.silu(a)", x => F.silu(x[0]), b.R(4, 5));
        b.Add("gelu", "out = F.gelu(a)", x => F.gelu(x[0]), b.R(4, 5));
        b.Add("relu", "out = F.relu(a)", x => F.relu(x[0]), b.R(4, 5));
        b.Add("leaky_relu", "out = F.leaky_relu(a, 0.2)", x => F.leaky_relu(x[0], 0.2), b.R(4, 5));
        b.Add("softmax", "out = F.softmax(a, dim=-1)", x => F.softmax(x[0], -1), b.R(3, 7));
        b.Add("log_softmax", "out = F.log_softmax(a, dim=1)", x => F.log_softmax(x[0], 1), b.R(3, 7));
        b.Add("dropout_eval", "out = F.dropout(a, 0.3, training=False)", x => F.dropout(x[0], 0.3, false), b.R(4, 5));
        b.Add("dropout_train_seeded", "torch.manual_seed(11); out = F.dropout(a, 0.3, training=True)", x => { manual_seed(11); return F.dropout(x[0], 0.3, true); }, b.R(8, 9));
        b.Add("embedding", "out = F.embedding(b, a)", x => x[0].index_select(0, x[1].flatten()).view(2, 5, 4), b.R(10, 4), b.I(10, 2, 5));
        b.Add("interpolate_nearest_scale", "out = F.interpolate(a, scale_factor=2.0, mode='nearest')", x => F.interpolate(x[0], scale_factor: [2.0, 2.0]), b.R(2, 3, 4, 5));
        b.Add("interpolate_nearest_size", "out = F.interpolate(a, size=(7, 3), mode='nearest')", x => F.interpolate(x[0], size: [7, 3]), b.R(2, 3, 4, 5));
        b.Add("interpolate_bilinear", "out = F.interpolate(a, scale_factor=2.0, mode='bilinear', align_corners=False)", x => F.interpolate(x[0], null, [2.0, 2.0], InterpolationMode.Bilinear, false), b.R(2, 3, 4, 5));
        b.Add("interpolate_bilinear_corners", "out = F.interpolate(a, size=(9, 6), mode='bilinear', align_corners=True)", x => F.interpolate(x[0], [9, 6], null, InterpolationMode.Bilinear, true), b.R(2, 3, 4, 5));
        b.Add("interpolate_bicubic", "out = F.interpolate(a, size=(7, 9), mode='bicubic', align_corners=False)", x => F.interpolate(x[0], [7, 9], null, InterpolationMode.Bicubic, false), b.R(2, 3, 4, 5));
        b.Add("avg_pool2d", "out = F.avg_pool2d(a, 2)", x => F.avg_pool2d(x[0], [2]), b.R(2, 3, 6, 6));
        b.Add("avg_pool2d_stride_pad", "out = F.avg_pool2d(a, 3, stride=2, padding=1)", x => F.avg_pool2d(x[0], [3], [2], [1]), b.R(2, 3, 7, 7));
        b.Add("pad_constant", "out = F.pad(a, (1, 2, 0, 1), value=0.5)", x => F.pad(x[0], [1, 2, 0, 1], PaddingModes.Constant, 0.5), b.R(2, 3, 4, 4));
        b.Add("pad_reflect", "out = F.pad(a, (2, 2, 1, 1), mode='reflect')", x => F.pad(x[0], [2, 2, 1, 1], PaddingModes.Reflect), b.R(2, 3, 4, 4));
        b.Add("pad_replicate", "out = F.pad(a, (1, 0, 2, 1), mode='replicate')", x => F.pad(x[0], [1, 0, 2, 1], PaddingModes.Replicate), b.R(2, 3, 4, 4));
        b.Add("mse_loss", "out = F.mse_loss(a, b)", x => F.mse_loss(x[0], x[1]), b.R(4, 5), b.R(4, 5));
        b.Add("mse_loss_sum", "out = F.mse_loss(a, b, reduction='sum')", x => F.mse_loss(x[0], x[1], nn.Reduction.Sum), b.R(4, 5), b.R(4, 5));
        b.Add("l1_loss", "out = F.l1_loss(a, b)", x => F.l1_loss(x[0], x[1]), b.R(4, 5), b.R(4, 5));
        b.Add("attention_sdpa", "out = torch.softmax(a @ b.transpose(-2, -1) * (1 / math.sqrt(8)), -1) @ c",
            x => F.scaled_dot_product_attention(x[0], x[1], x[2]), b.R(2, 5, 8), b.R(2, 6, 8), b.R(2, 6, 8));
        // ---- a UNet/attention block: conv -> group_norm -> silu -> interpolate -> linear -> attention ----
        b.Add("composite_block", """
            wv, bo = h, k
            h = F.conv2d(a, b, c, padding=1)
            h = F.group_norm(h, 4, d, e)
            h = F.silu(h)
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            B, C, H, W = h.shape
            t = h.flatten(2).transpose(1, 2)
            q, k, v = F.linear(t, f), F.linear(t, g), F.linear(t, wv, i)
            attn = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(C), dim=-1)
            out = F.linear(attn @ v, j, bo).transpose(1, 2).reshape(B, C, H, W) + h
            """, x => CompositeBlock(x),
            b.R(2, 3, 4, 4), b.R(8, 3, 3, 3), b.R(8), b.R(8), b.R(8), b.R(8, 8), b.R(8, 8), b.R(8, 8), b.R(8), b.R(8, 8), b.R(8));
        // ---- dtypes ----
        b.Add("to_float16", "out = a.to(torch.float16)", x => x[0].to(float16), b.R(3, 4));
        b.Add("to_bfloat16_and_back", "out = a.to(torch.bfloat16).to(torch.float32) * 3", x => x[0].to(bfloat16).to(float32) * 3, b.R(3, 4));
        b.Add("float64_math", "out = (a * a).sum(1)", x => (x[0] * x[0]).sum(1), b.R64(3, 4));
        b.Add("to_int32_truncates", "out = (a * 10).to(torch.int32)", x => (x[0] * 10).to(int32), Builder.N(b.R(3, 4)));
        b.Add("to_uint8", "out = (a.abs() * 50).to(torch.uint8)", x => (x[0].abs() * 50).to(uint8), Builder.N(b.R(3, 4)));
        b.Add("compare_to_bool", "out = a > 0", x => x[0] > 0, Builder.N(b.R(3, 4)));
        // ---- creation and random numbers (same generator algorithm and seeds) ----
        b.Add("randn_manual_seed", "torch.manual_seed(3); out = torch.randn(3, 4)", _ => { manual_seed(3); return randn(3, 4); });
        b.Add("rand_generator", "g = torch.Generator().manual_seed(5); out = torch.rand(2, 3, generator=g)", _ => { using var gen = new Generator(5); return rand([2, 3], generator: gen); });
        b.Add("randint_seed", "torch.manual_seed(1); out = torch.randint(0, 10, (6,))", _ => { manual_seed(1); return randint(0, 10, [6]); });
        b.Add("arange_int", "out = torch.arange(0, 10, 3)", _ => arange(0, 10, 3));
        b.Add("arange_float", "out = torch.arange(0.5, 3.0, 0.25)", _ => arange(0.5, 3.0, 0.25));
        b.Add("linspace", "out = torch.linspace(0, 1, 7)", _ => linspace(0, 1, 7));
        b.Add("full_eye_like", "out = torch.full((2, 3), 1.5) + torch.eye(2, 3) + torch.ones_like(a) * 2 + torch.zeros_like(a)",
            x => full([2, 3], 1.5) + eye(2, 3) + ones_like(x[0]) * 2 + zeros_like(x[0]), Builder.N(b.R(2, 3)));
        // ---- optimizers, schedulers, clipping, EMA ----
        b.Add("adam_5_steps", Optimize("torch.optim.Adam([p], lr=0.01)"), x => Optimize(x, p => optim.Adam([p], lr: 0.01)), Builder.N(b.R(3, 4)), Builder.N(b.R(3, 4)));
        b.Add("adamw_5_steps", Optimize("torch.optim.AdamW([p], lr=0.02, weight_decay=0.1)"), x => Optimize(x, p => optim.AdamW([p], lr: 0.02, weight_decay: 0.1)), Builder.N(b.R(3, 4)), Builder.N(b.R(3, 4)));
        b.Add("sgd_nesterov_5_steps", Optimize("torch.optim.SGD([p], lr=0.05, momentum=0.9, nesterov=True)"), x => Optimize(x, p => optim.SGD([p], 0.05, momentum: 0.9, nesterov: true)), Builder.N(b.R(3, 4)), Builder.N(b.R(3, 4)));
        b.Add("clip_grad_norm", "p = torch.nn.Parameter(a.clone()); p.grad = b.clone(); n = torch.nn.utils.clip_grad_norm_([p], 0.5); out = torch.cat([p.grad.flatten(), n.reshape(1)])",
            x => { var p = new Parameter(x[0].clone()); p.grad = x[1].clone(); var n = nn.utils.clip_grad_norm_([p], 0.5); return cat([p.grad!.flatten(), tensor([(float)n])]); },
            Builder.N(b.R(3, 4)), Builder.N(b.R(3, 4)));
        b.Add("clip_grad_value", "p = torch.nn.Parameter(a.clone()); p.grad = b.clone(); torch.nn.utils.clip_grad_value_([p], 0.3); out = p.grad",
            x => { var p = new Parameter(x[0].clone()); p.grad = x[1].clone(); nn.utils.clip_grad_value_([p], 0.3); return p.grad!; },
            Builder.N(b.R(3, 4)), Builder.N(b.R(3, 4)));
        b.Add("lr_schedulers", Schedules(), _ => Schedules(out int _));
        b.Add("ema_of_weights", "e = a.clone()\nfor w in (b, c):\n    e = e.lerp(w, 1 - 0.9)\nout = e",
            x => Ema(x), Builder.N(b.R(3, 4)), Builder.N(b.R(3, 4)), Builder.N(b.R(3, 4)));
        return b.Cases;
    }

    private static Tensor CompositeBlock(Tensor[] x)
    {
        var h = F.conv2d(x[0], x[1], x[2], padding: [1]);
        h = F.group_norm(h, 4, x[3], x[4]);
        h = F.silu(h);
        h = F.interpolate(h, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
        var s = h.shape;
        var t = h.flatten(2).transpose(1, 2);
        var q = F.linear(t, x[5]);
        var k = F.linear(t, x[6]);
        var v = F.linear(t, x[7], x[8]);
        var attn = softmax(q.matmul(k.transpose(1, 2)) / Math.Sqrt(s[1]), -1);
        return F.linear(attn.matmul(v), x[9], x[10]).transpose(1, 2).reshape(s) + h;
    }

    private static string Optimize(string ctor) => $"""
        p = torch.nn.Parameter(a.clone())
        opt = {ctor}
        for _ in range(5):
            opt.zero_grad()
            loss = ((p - b) ** 2 * (p + 2)).sum()
            loss.backward()
            opt.step()
        out = p.detach()
        """;

    private static Tensor Optimize(Tensor[] x, Func<Parameter, optim.Optimizer> make)
    {
        var p = new Parameter(x[0].clone());
        using var opt = make(p);
        for (int k = 0; k < 5; k++)
        {
            opt.zero_grad();
            var loss = ((p - x[1]).pow(2) * (p + 2)).sum();
            loss.backward();
            opt.step();
        }
        return p.detach();
    }

    private static string Schedules() => """
        def run(make, n=10):
            p = torch.nn.Parameter(torch.zeros(1))
            opt = torch.optim.SGD([p], lr=0.1)
            s = make(opt)
            lrs = []
            for _ in range(n):
                lrs.append(opt.param_groups[0]["lr"])
                opt.step()
                s.step()
            return lrs
        S = torch.optim.lr_scheduler
        out = torch.tensor(run(lambda o: S.StepLR(o, 3, 0.5)) + run(lambda o: S.CosineAnnealingLR(o, 10, 0.01))
                           + run(lambda o: S.LinearLR(o, 0.25, 1.0, 4)) + run(lambda o: S.ExponentialLR(o, 0.9))
                           + run(lambda o: S.LambdaLR(o, lambda e: 1 / (e + 1))), dtype=torch.float64)
        """;

    private static Tensor Schedules(out int n)
    {
        var lrs = new List<double>();
        void Run(Func<optim.Optimizer, optim.lr_scheduler.LRScheduler> make)
        {
            var p = new Parameter(zeros([1]));
            using var opt = optim.SGD([p], 0.1);
            var s = make(opt);
            for (int k = 0; k < 10; k++)
            {
                lrs.Add(opt.ParamGroups.First().LearningRate);
                opt.step();
                s.step();
            }
        }
        Run(o => optim.lr_scheduler.StepLR(o, 3, 0.5));
        Run(o => optim.lr_scheduler.CosineAnnealingLR(o, 10, 0.01));
        Run(o => optim.lr_scheduler.LinearLR(o, 0.25, 1.0, 4));
        Run(o => optim.lr_scheduler.ExponentialLR(o, 0.9));
        Run(o => optim.lr_scheduler.LambdaLR(o, e => 1.0 / (e + 1)));
        n = lrs.Count;
        return tensor(lrs.ToArray());
    }

    private static Tensor Ema(Tensor[] x)
    {
        using var lin = nn.Linear(4, 3, hasBias: false);
        using (no_grad()) lin.weight.copy_(x[0]);
        using var ema = new ExponentialMovingAverage(lin, 0.9);
        foreach (var w in x[1..])
        {
            using (no_grad()) lin.weight.copy_(w);
            ema.Update(lin);
        }
        return ema.state_dict()["weight"].clone();
    }
}
