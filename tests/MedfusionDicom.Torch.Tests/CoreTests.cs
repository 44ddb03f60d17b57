using MedfusionDicom.Torch.Modules;
using static MedfusionDicom.Torch.torch;

namespace MedfusionDicom.Torch.Tests;

public sealed class CoreTests
{
    [Fact]
    public void Dispose_scope_frees_temporaries_and_keeps_moved_results()
    {
        Tensor kept, temp;
        using (var outer = NewDisposeScope())
        {
            using (NewDisposeScope())
            {
                temp = ones(3) * 2;
                kept = (temp + 1).MoveToOuterDisposeScope();
            }
            Assert.True(temp.IsInvalid);
            Assert.False(kept.IsInvalid);
            Assert.Equal([3f, 3f, 3f], kept.data<float>().ToArray());
            Assert.Contains(kept, outer.Disposables);
        }
        Assert.True(kept.IsInvalid);
        Assert.Throws<ObjectDisposedException>(() => kept.sum());
    }

    [Fact]
    public void Detached_tensors_outlive_their_scope()
    {
        Tensor t;
        using (NewDisposeScope()) t = zeros(2).DetachFromDisposeScope();
        Assert.False(t.IsInvalid);
        t.Dispose();
        Assert.True(t.IsInvalid);
    }

    [Fact]
    public void No_grad_stops_recording_and_restores_the_mode()
    {
        using var scope = NewDisposeScope();
        var x = ones([2, 2], requires_grad: true);
        using (no_grad())
        {
            Assert.False(is_grad_enabled());
            Assert.False((x * 2).requires_grad);
        }
        Assert.True(is_grad_enabled());
        var y = (x * x).sum();
        Assert.True(y.requires_grad);
        y.backward();
        Assert.Equal([2f, 2f, 2f, 2f], x.grad!.data<float>().ToArray());
        x.zero_grad();
        Assert.Null(x.grad);
    }

    [Fact]
    public void Shape_mismatch_gives_libtorch_message()
    {
        using var scope = NewDisposeScope();
        var e = Assert.Throws<TorchException>(() => ones(2, 3).matmul(ones(4, 5)));
        Assert.Contains("shapes cannot be multiplied (2x3 and 4x5)", e.Message);
        var b = Assert.Throws<TorchException>(() => ones(2, 3) + ones(4, 5));
        Assert.Contains("must match the size of tensor b", b.Message);
        Assert.DoesNotContain("Exception raised from", b.Message); // no C++ backtrace
    }

    [Fact]
    public void Wrong_dtype_gives_libtorch_message()
    {
        using var scope = NewDisposeScope();
        var e = Assert.Throws<TorchException>(() => arange(3).data<float>());
        Assert.Contains("expected scalar type Float but found Long", e.Message);
        var m = Assert.Throws<TorchException>(() => ones(2, 2).matmul(ones(2, 2, dtype: float64)));
        Assert.Contains("Double", m.Message);
    }

    [Fact]
    public void Every_dtype_round_trips_through_data_and_item()
    {
        using var scope = NewDisposeScope();
        Assert.Equal([1.5f, -2f], tensor([1.5f, -2f]).data<float>().ToArray());
        Assert.Equal([1.5, -2.0], tensor([1.5, -2.0]).data<double>().ToArray());
        Assert.Equal([1L << 40, -3], tensor([1L << 40, -3]).data<long>().ToArray());
        Assert.Equal([7, -8], tensor([7, -8]).data<int>().ToArray());
        Assert.Equal([(byte)0, 255], tensor([(byte)0, (byte)255]).data<byte>().ToArray());
        Assert.Equal([true, false], tensor([true, false]).data<bool>().ToArray());
        Assert.Equal([(Half)0.5f, (Half)(-4f)], tensor([(Half)0.5f, (Half)(-4f)], [2]).data<Half>().ToArray());
        var bf = tensor([(BFloat16)1.25f, (BFloat16)(-3f)], [2]);
        Assert.Equal(ScalarType.BFloat16, bf.dtype);
        Assert.Equal([1.25f, -3f], bf.to(float32).data<float>().ToArray());
        Assert.Equal(1.25f, (float)bf[0].item<BFloat16>());
        Assert.Equal([2L, 3L], tensor([2.7f, 3.2f]).to(int64).data<long>().ToArray());
        Assert.Equal(6.0, arange(4).sum().item<long>());
        var m = from_array(new float[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        Assert.Equal([2L, 3], m.shape);
        Assert.Equal(6f, m[1, 2].item<float>());
        Assert.Equal([1f, 2, 3, 4, 5, 6], m.T.contiguous().T.ToArray<float>());
    }

    [Fact]
    public void Data_accessor_writes_through_to_the_tensor()
    {
        using var scope = NewDisposeScope();
        var t = zeros(2, 2);
        using (var acc = t.data<float>()) acc[1, 0] = 5;
        Assert.Equal(5f, t[1, 0].item<float>());
        t[0] = ones(2);
        Assert.Equal([1f, 1, 5, 0], t.data<float>().ToArray());
    }

    private sealed class Block : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv = nn.Conv2d(4, 4, 3, padding: 1);
        private readonly GroupNorm norm = nn.GroupNorm(2, 4);
        private readonly Dropout drop = nn.Dropout(0.5);
        private readonly ModuleList<Linear> heads = nn.ModuleList(nn.Linear(4, 2), nn.Linear(4, 3));
        private readonly Tensor scale = ones(1);
        public Block() : base(nameof(Block)) => RegisterComponents();
        public override Tensor forward(Tensor x) => drop.call(nn.functional.silu(norm.call(conv.call(x)))) * scale;
        public Linear Head(int k) => heads[k];
    }

    [Fact]
    public void Modules_register_fields_and_move_between_dtypes()
    {
        using var scope = NewDisposeScope();
        using var m = new Block();
        Assert.Equal(["conv.weight", "conv.bias", "norm.weight", "norm.bias", "heads.0.weight", "heads.0.bias", "heads.1.weight", "heads.1.bias"],
            m.named_parameters().Select(p => p.name));
        Assert.Equal(["conv.weight", "conv.bias", "norm.weight", "norm.bias", "heads.0.weight", "heads.0.bias", "heads.1.weight", "heads.1.bias", "scale"],
            m.state_dict().Keys);
        Assert.Equal(["", "conv", "norm", "drop", "heads", "heads.0", "heads.1"], m.named_modules().Select(x => x.name));

        var x = randn(2, 4, 5, 5);
        m.eval();
        Assert.DoesNotContain(m.modules(), x => x.training);
        Assert.True(m.call(x).allclose(m.call(x))); // dropout off in eval
        m.train();
        Assert.False(m.call(x).allclose(m.call(x))); // and on in train

        m.to(float64);
        Assert.All(m.parameters(), p => Assert.Equal(ScalarType.Float64, p.dtype));
        Assert.Equal(ScalarType.Float64, m.Head(1).weight.dtype); // fields follow the move
        Assert.Equal(ScalarType.Float64, m.eval().named_buffers().Single().buffer.dtype);
        Assert.Equal(ScalarType.Float64, ((Block)m).call(x.to(float64)).dtype);
    }

    [Fact]
    public void Load_state_dict_checks_keys_and_shapes()
    {
        using var scope = NewDisposeScope();
        using var a = nn.Linear(3, 2);
        using var b = nn.Linear(3, 2);
        b.load_state_dict(a.state_dict());
        Assert.True(a.weight.allclose(b.weight));
        var wrong = new Dictionary<string, Tensor> { ["weight"] = zeros(2, 4), ["bias"] = zeros(2) };
        Assert.Contains("size mismatch for weight", Assert.Throws<TorchException>(() => b.load_state_dict(wrong)).Message);
        var missing = new Dictionary<string, Tensor> { ["weight"] = zeros(2, 3), ["extra"] = zeros(1) };
        var e = Assert.Throws<TorchException>(() => b.load_state_dict(missing));
        Assert.Contains("missing keys: [bias]", e.Message);
        Assert.Contains("unexpected keys: [extra]", e.Message);
        var (miss, unexpected) = b.load_state_dict(missing, strict: false);
        Assert.Equal(["bias"], miss);
        Assert.Equal(["extra"], unexpected);
        Assert.Equal(0f, b.weight.abs().sum().item<float>());
    }

    [Fact]
    public void Training_loop_reduces_loss_with_adamw_schedule_clipping_and_ema()
    {
        manual_seed(0);
        using var model = nn.Sequential(nn.Linear(4, 16), nn.SiLU(), nn.Linear(16, 1));
        using var ema = new ExponentialMovingAverage(model, 0.9);
        using var opt = optim.AdamW(model.parameters(), lr: 0.05);
        var sched = optim.lr_scheduler.CosineAnnealingLR(opt, 100);
        using var x = randn(64, 4);
        using var y = x.sum(1, true);
        double first = 0, last = 0;
        for (int step = 0; step < 100; step++)
        {
            using var scope = NewDisposeScope();
            opt.zero_grad();
            var loss = nn.functional.mse_loss(model.call(x), y);
            loss.backward();
            nn.utils.clip_grad_norm_(model.parameters(), 1.0);
            opt.step();
            sched.step();
            ema.Update(model);
            if (step == 0) first = loss.item<double>();
            last = loss.item<double>();
        }
        Assert.True(last < first * 0.1, $"loss {first} -> {last}");
        Assert.Equal(100, ema.Updates);
    }

    [Fact]
    public void Threads_seeds_and_devices()
    {
        int before = get_num_threads();
        set_num_threads(1);
        Assert.Equal(1, get_num_threads());
        set_num_threads(before);
        using var scope = NewDisposeScope();
        manual_seed(42);
        var a = randn(3);
        manual_seed(42);
        Assert.True(a.allclose(randn(3)));
        using var g = new Generator(7);
        Assert.Equal(7, g.initial_seed());
        Assert.Equal(DeviceType.CPU, a.device_type);
        Assert.Equal("cpu", a.device.ToString());
        Assert.False(cuda.is_available()); // the Debian libtorch is CPU-only
        Assert.Equal(new Device("cuda:1"), device(DeviceType.CUDA, 1));
        Assert.Contains("device type", Assert.Throws<TorchException>(() => device("tpu")).Message);
    }
}
