// A program written against TorchSharp's API. The only difference from the TorchSharp version is the
// namespaces: `TorchSharp` -> `MedfusionDicom.Torch` (and `TorchSharp.Modules` -> `MedfusionDicom.Torch.Modules`).
using MedfusionDicom.Torch;
using MedfusionDicom.Torch.Modules;
using static MedfusionDicom.Torch.torch;
using F = MedfusionDicom.Torch.torch.nn.functional;

torch.manual_seed(1);
torch.set_num_threads(1);
var device = torch.cuda.is_available() ? torch.CUDA : torch.CPU;

var model = new TinyUNetBlock(8, 16).to(device);
var optimizer = torch.optim.AdamW(model.parameters(), lr: 1e-2);
var scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 10, 0.5);
var x = torch.randn(new long[] { 4, 8, 16, 16 }, device: device);
var target = torch.zeros_like(x);

double first = 0, last = 0;
for (int step = 0; step < 30; step++)
{
    using var d = torch.NewDisposeScope();
    optimizer.zero_grad();
    var loss = F.mse_loss(model.call(x), target);
    loss.backward();
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0);
    optimizer.step();
    scheduler.step();
    if (step == 0) first = loss.item<float>();
    last = loss.item<float>();
}

// a sampling loop that must not leak: each step's state leaves the scope, everything else is freed
model.eval();
var sample = torch.randn(new long[] { 1, 8, 16, 16 });
using (torch.no_grad())
{
    for (int t = 0; t < 50; t++)
    {
        using var d = torch.NewDisposeScope();
        var eps = model.call(sample);
        var next = (sample - eps * 0.1).MoveToOuterDisposeScope();
        sample.Dispose();
        sample = next;
    }
}

var values = sample.data<float>().ToArray();
Console.WriteLine($"loss {first:F4} -> {last:F4}; sample mean {values.Average():F4}; params {model.parameters().Sum(p => p.numel())}");
return last < first && values.All(float.IsFinite) ? 0 : 1;

class TinyUNetBlock : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv_in;
    private readonly GroupNorm norm;
    private readonly Linear proj;
    private readonly ConvTranspose2d up;
    private readonly Conv2d conv_out;
    private readonly Dropout dropout = nn.Dropout(0.1);

    public TinyUNetBlock(long channels, long hidden) : base(nameof(TinyUNetBlock))
    {
        conv_in = nn.Conv2d(channels, hidden, 3, stride: 2, padding: 1);
        norm = nn.GroupNorm(4, hidden);
        proj = nn.Linear(hidden, hidden);
        up = nn.ConvTranspose2d(hidden, hidden, 4, stride: 2, padding: 1);
        conv_out = nn.Conv2d(hidden, channels, 3, padding: 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var h = F.silu(norm.call(conv_in.call(x)));
        var b = h.shape[0];
        var c = h.shape[1];
        var tokens = h.flatten(2).transpose(1, 2);                        // B, HW, C
        var attn = F.softmax(tokens.matmul(tokens.transpose(1, 2)) / Math.Sqrt(c), -1);
        tokens = tokens + proj.call(attn.matmul(tokens));
        h = tokens.transpose(1, 2).reshape(b, c, h.shape[2], h.shape[3]);
        h = F.interpolate(h, scale_factor: new double[] { 2 }, mode: InterpolationMode.Bilinear);
        h = h + up.call(dropout.call(F.avg_pool2d(h, new long[] { 2 })));
        return conv_out.call(h);
    }
}
