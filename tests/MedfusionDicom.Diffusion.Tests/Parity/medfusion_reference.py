"""PyTorch model of Medfusion's VAE and UNet for the parity test (run by /usr/bin/python3 with torch 1.13).

Written for this test from the architecture of mueller-franzes/medfusion: module attribute names equal the
reference's so that the state_dict keys, and hence the weights written by the C# side, match one to one.
Usage: medfusion_reference.py CONFIG.json WEIGHTS_VAE IN.safetensors WEIGHTS_UNET OUT.safetensors
"""
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

# The safetensors reader/writer of the tensor runtime's own oracle (the safetensors package is not installed).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "MedfusionDicom.Torch.Tests", "oracle"))
from st import load, save  # noqa: E402

def pad(k, s):
    return (k - s + 1) // 2


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, k, s=1, groups=None, act=False):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, pad(k, s))
        if groups:
            self.norm = nn.GroupNorm(groups, cout)
        self.use_act = act

    def forward(self, x):
        x = self.conv(x)
        if hasattr(self, "norm"):
            x = self.norm(x)
        return F.silu(x) if self.use_act else x


class BasicResBlock(nn.Module):
    def __init__(self, cin, cout, k, s, groups):
        super().__init__()
        self.basic_block = BasicBlock(cin, cout, k, s, groups, act=True)
        self.conv_res = nn.Conv2d(cin, cout, 1, s, pad(1, s)) if cin != cout else nn.Identity()

    def forward(self, x):
        return self.basic_block(x) + self.conv_res(x)


class UnetResBlock(nn.Module):
    def __init__(self, cin, cout, k, s, groups, emb=None):
        super().__init__()
        self.block_seq = nn.ModuleList([BasicResBlock(cin, cout, k, s, groups), BasicResBlock(cout, cout, k, s, groups)])
        if emb is not None:
            self.local_embedder = nn.Sequential(nn.SiLU(), nn.Linear(emb, cout))

    def forward(self, x, emb=None):
        if emb is not None:
            emb = self.local_embedder(emb)[:, :, None, None]
        for i, b in enumerate(self.block_seq):
            x = b(x)
            if emb is not None and i < len(self.block_seq) - 1:
                x = x + emb
        return x


class BasicDown(nn.Module):
    def __init__(self, cin, cout, k, s):
        super().__init__()
        self.down_op = nn.Conv2d(cin, cout, k, s, pad(k, s))

    def forward(self, x):
        return self.down_op(x)


class BasicUp(nn.Module):
    def __init__(self, cin, cout, k, s):
        super().__init__()
        self.k, self.s = k, s
        self.up_op = nn.Conv2d(cin, cout, 3, 1, 1)

    def forward(self, x):
        size = [(n - 1) * self.s + self.k - 2 * pad(self.k, self.s) for n in x.shape[2:]]
        return self.up_op(F.interpolate(x, size=size, mode="nearest-exact"))


class DownBlock(nn.Module):
    def __init__(self, cin, cout, k, s, groups, emb=None):
        super().__init__()
        self.down_op = BasicDown(cin, cout, k, s)
        self.conv_block = UnetResBlock(cout, cout, k, 1, groups, emb)

    def forward(self, x, emb=None):
        return self.conv_block(self.down_op(x), emb)


class UpBlock(nn.Module):
    def __init__(self, cin, cout, k, s, groups, emb=None):
        super().__init__()
        self.up_op = BasicUp(cin, cout, s, s)
        self.conv_block = UnetResBlock(cout, cout, k, 1, groups, emb)

    def forward(self, x, skip=None, emb=None):
        x = self.up_op(x)
        if skip is not None:
            x = x + skip
        return self.conv_block(x, emb)


class VAE(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, k, s, g, e = c["hidChs"], c["kernelSizes"], c["strides"], c["normGroups"], c["embChannels"]
        self.inc = UnetResBlock(c["inChannels"], h[0], k[0], s[0], g)
        self.encoders = nn.ModuleList([DownBlock(h[i - 1], h[i], k[i], s[i], g) for i in range(1, len(s))])
        self.out_enc = nn.Sequential(BasicBlock(h[-1], 2 * e, 3), BasicBlock(2 * e, 2 * e, 1))
        self.inc_dec = UnetResBlock(e, h[-1], 3, 1, g)
        self.decoders = nn.ModuleList([UpBlock(h[i + 1], h[i], k[i + 1], s[i + 1], g) for i in range(len(s) - 1)])
        self.outc = BasicBlock(h[0], c["outChannels"], 1)
        self.outc_ver = nn.ModuleList([BasicBlock(h[i], c["outChannels"], 1) for i in range(1, c["deepSupervision"] + 1)])

    def moments(self, x):
        x = self.inc(x)
        for e in self.encoders:
            x = e(x)
        mean, logvar = torch.chunk(self.out_enc(x), 2, dim=1)
        return mean, torch.clamp(logvar, -30.0, 20.0)

    def decode(self, z):
        deep = []
        h = self.inc_dec(z)
        for i in range(len(self.decoders) - 1, -1, -1):
            if i < len(self.outc_ver):
                deep.append(self.outc_ver[i](h))
            h = self.decoders[i](h)
        return self.outc(h), deep[::-1]


class SinusoidalPosEmb(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, t):
        half = self.dim // 2
        f = torch.exp(-math.log(10000) / (half - 1) * torch.arange(half))
        a = t.float()[:, None] * f[None, :]
        return torch.cat((a.sin(), a.cos()), dim=-1)


class TimeEmbbeding(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.time_emb = nn.Sequential(SinusoidalPosEmb(dim // 4), nn.Linear(dim // 4, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t):
        return self.time_emb(t)


class LabelEmbedder(nn.Module):
    def __init__(self, n, dim):
        super().__init__()
        self.embedding = nn.Embedding(n, dim)

    def forward(self, c):
        return self.embedding(c)


class Convolution(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__()
        self.add_module("conv", nn.Conv2d(cin, cout, 1))


class UnetOutBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = Convolution(cin, cout)

    def forward(self, x):
        return self.conv(x)


class UNet(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, k, s, g, e = c["hidChs"], c["kernelSizes"], c["strides"], c["normGroups"], c["embDim"]
        self.time_embedder = TimeEmbbeding(e)
        if c["numClasses"] > 0:
            self.cond_embedder = LabelEmbedder(c["numClasses"], e)
        self.inc = UnetResBlock(c["inChannels"], h[0], k[0], s[0], g, e)
        self.encoders = nn.ModuleList([DownBlock(h[i - 1], h[i], k[i], s[i], g, e) for i in range(1, len(s))])
        self.decoders = nn.ModuleList([UpBlock(h[i + 1], h[i], k[i + 1], s[i + 1], g, e) for i in range(len(s) - 1)])
        self.outc = UnetOutBlock(h[0], c["outChannels"])
        self.outc_ver = nn.ModuleList([UnetOutBlock(h[i], c["outChannels"]) for i in range(1, c["deepSupervision"] + 1)])

    def forward(self, x, t, cond=None, keep=None):
        # keep (per sample, 1 or 0): the C# keepLabel of classifier-free guidance; a dropped label adds nothing.
        emb = self.time_embedder(t)
        if cond is not None:
            c = self.cond_embedder(cond)
            emb = emb + (c if keep is None else c * keep[:, None])
        feats = [self.inc(x, emb)]
        for enc in self.encoders:
            feats.append(enc(feats[-1], emb))
        for i in range(len(self.decoders), 0, -1):
            feats[i - 1] = self.decoders[i - 1](feats[i], feats[i - 1], emb)
        return self.outc(feats[0]), [o(feats[i + 1]) for i, o in enumerate(self.outc_ver)]


def main():
    cfg_path, vae_w, inputs_path, unet_w, out_path = sys.argv[1:6]
    cfg = json.load(open(cfg_path))
    torch.set_num_threads(1)
    inp = load(inputs_path)
    out = {}
    with torch.no_grad():
        vae = VAE(cfg["vae"])
        vae.load_state_dict(load(vae_w), strict=True)
        mean, logvar = vae.moments(inp["image"])
        rec, deep = vae.decode(mean)
        out.update({"vae.mean": mean, "vae.logvar": logvar, "vae.rec": rec})
        out.update({f"vae.deep{i}": d for i, d in enumerate(deep)})
        unet = UNet(cfg["unet"])
        unet.load_state_dict(load(unet_w), strict=True)
        eps, deep = unet(inp["latent"], inp["t"], inp["labels"])
        out["unet.eps"] = eps
        out.update({f"unet.deep{i}": d for i, d in enumerate(deep)})
    save(out_path, out)


if __name__ == "__main__":
    main()
