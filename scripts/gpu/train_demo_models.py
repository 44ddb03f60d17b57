"""Trains the bundled demo models on a CUDA GPU: a PyTorch port of src/MedfusionDicom.Diffusion/Training/Trainer.cs.

Why it exists: the C# trainer runs on CPU at a few images per second, so the demo models it can train in a day stay
far from the classic baselines. This script trains the same networks (the parity-tested reference modules of
tests/MedfusionDicom.Diffusion.Tests/Parity, whose state_dict keys equal the C# modules') with the same data
pipeline, degradations, losses, optimizer, gradient clipping and EMA, only with larger batches on a GPU, and writes
model directories in ModelStore's layout (config.json, model.safetensors = EMA, train-state.safetensors = raw,
state.json) that the C# side loads, evaluates and can resume with `medfusion train`.

Usage (on a machine with torch and a GPU):
  python3 scripts/gpu/train_demo_models.py --data DIR --configs DIR --out DIR --job NAME --seconds S
DIR of --data holds cxr_train_delta.xz (the train split of cxr128.npy, uint8, each row delta-coded mod 256, xz) and
cxr_train.meta (two bytes an image: label 0 NORMAL / 1 PNEUMONIA, and 1 when CxrDataset puts it in "val").
Jobs: cdiff-cxr-denoise, cdiff-cxr-sr2x, cdiff-cxr-inpaint, medfusion-cxr (trains vae first, then the latent UNet).
"""
import argparse
import copy
import json
import lzma
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "MedfusionDicom.Diffusion.Tests", "Parity"))
from medfusion_reference import UNet, VAE  # noqa: E402
from st import save  # noqa: E402  (put on sys.path by medfusion_reference)

SIGMA, SALT_PEPPER = 0.1, 0.02  # Evaluation/Degradations.cs
DEVICE = "cuda"


def load_data(path, device):
    raw = lzma.decompress(open(os.path.join(path, "cxr_train_delta.xz"), "rb").read())
    delta = np.frombuffer(raw, np.uint8).reshape(-1, 128, 128)
    images = np.cumsum(delta, axis=2, dtype=np.uint8)  # wraps mod 256: undoes the delta coding
    meta = np.frombuffer(open(os.path.join(path, "cxr_train.meta"), "rb").read(), np.uint8).reshape(-1, 2)
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0).to(device)
    labels = torch.from_numpy(meta[:, 0].astype(np.int64)).to(device)
    val = torch.from_numpy(meta[:, 1].astype(bool)).to(device)
    return x[~val], labels[~val], x[val], labels[val]


def betas_for(sched):
    n, a, b = sched["timesteps"], sched["betaStart"], sched["betaEnd"]
    if sched["schedule"] == "linear":
        return np.linspace(a, b, n, dtype=np.float64)
    if sched["schedule"] == "scaled-linear":
        return np.linspace(math.sqrt(a), math.sqrt(b), n, dtype=np.float64) ** 2
    raise ValueError(f"schedule {sched['schedule']} is not ported")


class Schedule:
    def __init__(self, sched, device):
        self.T = sched["timesteps"]
        self.ab64 = np.cumprod(1.0 - betas_for(sched))
        self.ab = torch.tensor(self.ab64, dtype=torch.float32, device=device)

    def add_noise(self, x0, noise, t):
        ab = self.ab[t].view(-1, 1, 1, 1)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def spaced(self, count):
        return [int((self.T - 1) * i / (count - 1)) for i in range(count)][::-1]


def unet_forward(unet, x, t, labels=None, keep=None):
    """The reference UNet with the C# keepLabel (see its forward)."""
    return unet(x, t, labels, keep)


def batch(images, labels, size, crop, gen):
    idx = torch.randint(0, images.shape[0], (size,), device=images.device, generator=gen)
    x = images[idx]
    if crop and crop < x.shape[-1]:
        # Even offsets, as Trainer.Batch: crops stay aligned with super-resolution's 2x2 blocks.
        n = x.shape[-1]
        oy = torch.randint(0, (n - crop) // 2 + 1, (size,), device=x.device, generator=gen) * 2
        ox = torch.randint(0, (n - crop) // 2 + 1, (size,), device=x.device, generator=gen) * 2
        r = torch.arange(crop, device=x.device)
        x = x[torch.arange(size, device=x.device)[:, None, None], (oy[:, None] + r)[:, :, None], (ox[:, None] + r)[:, None, :]]
    return x[:, None], labels[idx]


def degrade(task, x, cfg, gen):
    """Trainer.Degrade on the GPU: the condition (and mask) for clean images in [-1, 1]."""
    if task == "denoise":
        v = x + SIGMA * torch.randn(x.shape, device=x.device, generator=gen)
        u = torch.rand(x.shape, device=x.device, generator=gen)
        v = torch.where(u < SALT_PEPPER / 2, torch.full_like(v, -1.0), torch.where(u < SALT_PEPPER, torch.full_like(v, 1.0), v))
        return v.clamp(-1, 1), None
    if task == "super-resolve":
        s = cfg["scale"]
        low = F.avg_pool2d(x, s)
        return F.interpolate(low, scale_factor=s, mode="bicubic", align_corners=False).clamp(-1, 1), None
    b, _, h, w = x.shape
    bw = torch.randint(cfg["minBox"], cfg["maxBox"] + 1, (b,), device=x.device, generator=gen)
    bh = torch.randint(cfg["minBox"], cfg["maxBox"] + 1, (b,), device=x.device, generator=gen)
    bx = (torch.rand(b, device=x.device, generator=gen) * (w - bw + 1)).long()
    by = (torch.rand(b, device=x.device, generator=gen) * (h - bh + 1)).long()
    cols, rows = torch.arange(w, device=x.device), torch.arange(h, device=x.device)
    inside_x = (cols[None] >= bx[:, None]) & (cols[None] < (bx + bw)[:, None])
    inside_y = (rows[None] >= by[:, None]) & (rows[None] < (by + bh)[:, None])
    mask = (inside_y[:, :, None] & inside_x[:, None, :]).float()[:, None]
    if cfg.get("inpaintFill", "zero") == "harmonic":
        return harmonic_fill(x, mask), mask
    return x * (1 - mask), mask


def harmonic_fill(x, mask, tol=1e-6, max_iters=20000):
    """ClassicBaselines.HarmonicFill for a batch: the Laplace interpolant of the known pixels inside the mask (edge
    replication at the border). Red-black Gauss-Seidel with over-relaxation, so it converges as fast as the C# fill."""
    h, w = x.shape[2:]
    parity = ((torch.arange(h, device=x.device)[:, None] + torch.arange(w, device=x.device)[None]) % 2).bool()
    known = mask == 0
    r = torch.where(known, x, (x * known).sum((2, 3), keepdim=True) / known.sum((2, 3), keepdim=True).clamp(min=1))
    for it in range(max_iters):
        change = 0.0
        for colour in (False, True):
            p = F.pad(r, (1, 1, 1, 1), mode="replicate")
            avg = (p[:, :, :-2, 1:-1] + p[:, :, 2:, 1:-1] + p[:, :, 1:-1, :-2] + p[:, :, 1:-1, 2:]) / 4
            step = torch.where(~known & (parity == colour), 1.9 * (avg - r), torch.zeros_like(r))
            r = r + step
            if it % 50 == 0:
                change = max(change, step.abs().max().item())
        if it % 50 == 0 and change < tol:
            break
    return r


def ssim(pred, target):
    """Losses.Ssim: 11x11 Gaussian window (sigma 1.5), valid convolution, images mapped to [0, 1], clamped at 0."""
    win = min(11, pred.shape[2], pred.shape[3])
    win = win if win % 2 == 1 else win - 1
    g = torch.exp(-((torch.arange(win, device=pred.device) - win // 2) ** 2) / (2 * 1.5 ** 2))
    g = g / g.sum()
    k = (g[:, None] * g[None, :]).expand(pred.shape[1], 1, win, win).contiguous()
    x, y = ((pred + 1) * 0.5).clamp(0, 1), (target + 1) * 0.5
    blur = lambda t: F.conv2d(t, k, groups=pred.shape[1])  # noqa: E731
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    m = (2 * mx * my + c1) * (2 * sxy + c2) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return m.flatten(2).mean(2).relu().mean(1)


class Ema:
    def __init__(self, model, decay):
        self.model, self.decay = copy.deepcopy(model).eval(), decay
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model, step):
        d = min(self.decay, (1.0 + step) / (10.0 + step))  # diffusers' warm-up, as Trainer.Step
        for e, p in zip(self.model.state_dict().values(), model.state_dict().values()):
            if e.dtype.is_floating_point:
                e.mul_(d).add_(p.detach(), alpha=1 - d)
            else:
                e.copy_(p)


def cpu_state(module):
    return {k: v.detach().float().cpu().contiguous() for k, v in module.state_dict().items()}


def write_model(out_dir, cfg, ema, raw, step, images_seen, loss, seconds):
    os.makedirs(out_dir, exist_ok=True)
    meta = {"kind": cfg["kind"].capitalize(), "step": str(step), "trainer": "scripts/gpu/train_demo_models.py"}
    save(os.path.join(out_dir, "model.safetensors"), cpu_state(ema), meta)
    save(os.path.join(out_dir, "train-state.safetensors"), cpu_state(raw), meta)
    json.dump(cfg, open(os.path.join(out_dir, "config.json"), "w"), indent=2)
    state = {"step": step, "elapsedSeconds": seconds, "imagesSeen": images_seen, "recentLoss": loss, "finished": False}
    json.dump(state, open(os.path.join(out_dir, "state.json"), "w"), indent=2)


def train_loop(name, model, cfg, seconds, loss_fn, out_dir, log):
    """AdamW (Adam for the VAE), clip 1.0, EMA with warm-up; runs until `seconds` have passed."""
    opt_cls = torch.optim.Adam if cfg["kind"] == "vae" else torch.optim.AdamW
    opt = opt_cls(model.parameters(), lr=cfg["learningRate"], **({} if cfg["kind"] == "vae" else {"weight_decay": 0.0}))
    ema = Ema(model, cfg["emaDecay"])
    gen = torch.Generator(device=DEVICE).manual_seed(cfg["seed"])
    start, step, recent, last_log = time.time(), 0, 0.0, 0.0
    model.train()
    while time.time() - start < seconds:
        loss = loss_fn(gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema.update(model, step)
        step += 1
        if step % 50 == 0:
            v = loss.item()
            recent = v if recent == 0 else 0.98 * recent + 0.02 * v
            if time.time() - last_log > 30:
                last_log = time.time()
                print(f"{name}: step {step} loss {recent:.5f} {step * cfg['batchSize'] / (time.time() - start):.0f} img/s", file=log, flush=True)
    elapsed = time.time() - start
    write_model(out_dir, cfg, ema.model, model, step, step * cfg["batchSize"], recent, elapsed)
    print(f"{name}: done, {step} steps in {elapsed:.0f} s, loss {recent:.5f}", file=log, flush=True)
    return ema.model


def diffusion_loss(unet, sched, x0, gen, l1, max_strength=1.0, weight=None, **kw):
    """Trainer.DiffusionLoss: t from [0, max_strength·T); with a weight map, the mean over the weighted pixels only."""
    t = torch.randint(0, max(1, round(max_strength * sched.T)), (x0.shape[0],), device=x0.device, generator=gen)
    noise = torch.randn(x0.shape, device=x0.device, generator=gen)
    pred, deep = unet_forward(unet, sched.add_noise(x0, noise, t) if "inp" not in kw else kw["inp"](sched.add_noise(x0, noise, t)),
                              t.float(), kw.get("labels"), kw.get("keep"))
    def crit(a, b):
        if weight is None:
            return F.l1_loss(a, b) if l1 else F.mse_loss(a, b)
        err = (a - b).abs() if l1 else (a - b) ** 2
        wt = weight if a.shape[2] == weight.shape[2] else F.adaptive_avg_pool2d(weight, a.shape[2:])
        return (err * wt).sum() / (wt.sum() * a.shape[1] + 1e-8)
    w = [0.5 ** i for i in range(len(deep) + 1)]
    loss = crit(pred, noise) * (w[0] / sum(w))
    for i, d in enumerate(deep):
        loss = loss + crit(d, F.adaptive_avg_pool2d(noise, d.shape[2:])) * (w[i + 1] / sum(w))
    return loss


@torch.no_grad()
def ddim(unet, sched, cond_input, shape, steps, gen):
    """Sampler.Ddim with eta 0 and x0 clipping (what evaluation uses)."""
    x = torch.randn(shape, device=DEVICE, generator=gen)
    ts = sched.spaced(steps)
    for i, t in enumerate(ts):
        eps = unet_forward(unet, cond_input(x), torch.full((shape[0],), float(t), device=DEVICE))[0]
        a = sched.ab64[t]
        x0 = ((x - eps * math.sqrt(1 - a)) / math.sqrt(a)).clamp(-1, 1)
        if i == len(ts) - 1:
            return x0
        eps = (x - x0 * math.sqrt(a)) / math.sqrt(1 - a)
        an = sched.ab64[ts[i + 1]]
        x = x0 * math.sqrt(an) + eps * math.sqrt(1 - an)
    return x


def psnr(a, b):
    mse = ((a - b) ** 2).flatten(1).mean(1)
    return (10 * torch.log10(4.0 / mse)).mean().item()  # data range 2 ([-1, 1])


def run_cdiff(name, cfg, data, seconds, out, log):
    train_x, _, val_x, _ = data
    sched = Schedule(cfg["scheduler"], DEVICE)
    unet = UNet(cfg["unet"]).to(DEVICE)
    task = cfg["task"]

    def loss_fn(gen):
        x, _ = batch(train_x, train_x.new_zeros(train_x.shape[0], dtype=torch.long), cfg["batchSize"], cfg["cropSize"], gen)
        cond, mask = degrade(task, x, cfg, gen)
        inp = (lambda xt: torch.cat([xt, cond, mask], 1)) if mask is not None else (lambda xt: torch.cat([xt, cond], 1))
        return diffusion_loss(unet, sched, x, gen, l1=False, inp=inp, max_strength=cfg.get("maxStrength", 1.0),
                              weight=mask if cfg.get("lossInMaskOnly") and mask is not None else None)

    ema = train_loop(name, unet, cfg, seconds, loss_fn, os.path.join(out, name), log)
    # A quick signal on the validation images (full 128x128): the real evaluation runs in C# on the test split.
    gen = torch.Generator(device=DEVICE).manual_seed(1)
    x = val_x[:64, None]
    cond, mask = degrade(task, x, cfg, gen)
    inp = (lambda xt: torch.cat([xt, cond, mask], 1)) if mask is not None else (lambda xt: torch.cat([xt, cond], 1))
    y = ddim(ema, sched, inp, x.shape, 25, gen)
    if mask is not None:
        y = y * mask + x * (1 - mask)
    print(f"{name}: val PSNR model {psnr(y, x):.2f} dB, condition {psnr(cond, x):.2f} dB (DDIM 25, eta 0, no RePaint)", file=log, flush=True)


def run_medfusion(name, vae_cfg, cfg, data, vae_seconds, seconds, out, log):
    train_x, train_y, _, _ = data
    vae = VAE(vae_cfg["vae"]).to(DEVICE)
    for head in [vae.outc] + list(vae.outc_ver):  # ConvNormAct(zeroConv: true) in MedfusionVae
        torch.nn.init.zeros_(head.conv.weight)
        torch.nn.init.zeros_(head.conv.bias)

    def vae_loss(gen):
        x, _ = batch(train_x, train_y, vae_cfg["batchSize"], vae_cfg["cropSize"], gen)
        mean, logvar = vae.moments(x)
        z = mean + (0.5 * logvar).exp() * torch.randn(mean.shape, device=DEVICE, generator=gen)
        rec, deep = vae.decode(z)

        def r(p, tgt):
            return F.l1_loss(p, tgt) + (1 - ssim(p, tgt)).mean() * vae_cfg["ssimWeight"]
        loss = r(rec, x)
        for d in deep:
            loss = loss + r(d, F.interpolate(x, size=d.shape[2:], mode="nearest-exact"))
        return loss

    vae_ema = train_loop(name + "/vae", vae, vae_cfg, vae_seconds, vae_loss, os.path.join(out, name, "vae"), log)
    vae_ema.eval()
    gen = torch.Generator(device=DEVICE).manual_seed(cfg["seed"])
    with torch.no_grad():
        zs = []
        for _ in range(4):
            x, _ = batch(train_x, train_y, cfg["batchSize"], 0, gen)
            m, lv = vae_ema.moments(x)
            zs.append(m + (0.5 * lv).exp() * torch.randn(m.shape, device=DEVICE, generator=gen))
        cfg["latentScale"] = torch.cat(zs).std().item()
        val = train_x[:64, None]
        rec = vae_ema.decode(vae_ema.moments(val)[0])[0].clamp(-1, 1)
        print(f"{name}/vae: reconstruction PSNR {psnr(rec, val):.2f} dB; latent std {cfg['latentScale']:.4f}", file=log, flush=True)

    sched = Schedule(cfg["scheduler"], DEVICE)
    unet = UNet(cfg["unet"]).to(DEVICE)

    def unet_loss(gen):
        x, y = batch(train_x, train_y, cfg["batchSize"], 0, gen)
        with torch.no_grad():
            m, lv = vae_ema.moments(x)
            z = (m + (0.5 * lv).exp() * torch.randn(m.shape, device=DEVICE, generator=gen)) / cfg["latentScale"]
        keep = (torch.rand(x.shape[0], device=DEVICE, generator=gen) >= cfg["cfgDropout"]).float()
        return diffusion_loss(unet, sched, z, gen, l1=True, labels=y, keep=keep)

    train_loop(name, unet, cfg, seconds, unet_loss, os.path.join(out, name), log)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--configs", required=True, help="folder of NAME.json training configs (config.json of each model)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--job", required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--vae-seconds", type=float, default=180)
    ap.add_argument("--device", default="cuda")
    a = ap.parse_args()
    global DEVICE
    DEVICE = a.device
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    log = sys.stdout
    data = load_data(a.data, DEVICE)
    print(f"{a.job}: {data[0].shape[0]} training and {data[2].shape[0]} validation images on {torch.cuda.get_device_name() if DEVICE == 'cuda' else DEVICE}", file=log, flush=True)
    cfg = json.load(open(os.path.join(a.configs, a.job + ".json")))
    torch.manual_seed(cfg["seed"])
    if a.job == "medfusion-cxr":
        vae_cfg = json.load(open(os.path.join(a.configs, a.job + "-vae.json")))
        run_medfusion(a.job, vae_cfg, cfg, data, a.vae_seconds, a.seconds - a.vae_seconds, a.out, log)
    else:
        run_cdiff(a.job, cfg, data, a.seconds, a.out, log)


if __name__ == "__main__":
    main()
