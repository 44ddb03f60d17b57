"""Outputs and gradients of one bundled network through the PyTorch reference modules, for BundledNetworkParityTests.

Usage: network_gradients.py vae|unet CONFIG.json WEIGHTS.safetensors IN.safetensors OUT.safetensors
IN holds the network's inputs (vae: image; unet: x, t and optionally labels) and "go", the gradient of the output
(vae: the reconstruction of the posterior mean; unet: the noise estimate). OUT gets "out", "grad.input" and
"grad.<parameter>" for every parameter: the backward pass of sum(out * go).
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from medfusion_reference import UNet, VAE  # noqa: E402
from st import load, save  # noqa: E402


def main():
    kind, cfg_path, weights, inputs_path, out_path = sys.argv[1:6]
    torch.set_num_threads(int(os.environ.get("PARITY_THREADS", "2")))
    cfg = json.load(open(cfg_path))
    inp = load(inputs_path)
    net = VAE(cfg) if kind == "vae" else UNet(cfg)
    net.load_state_dict(load(weights), strict=True)
    if kind == "vae":
        x = inp["image"].clone().requires_grad_()
        mean, _ = net.moments(x)
        out, _ = net.decode(mean)
    else:
        x = inp["x"].clone().requires_grad_()
        out, _ = net(x, inp["t"], inp.get("labels"))
    (out * inp["go"]).sum().backward()
    result = {"out": out.detach(), "grad.input": x.grad}
    result.update({f"grad.{n}": p.grad for n, p in net.named_parameters() if p.grad is not None})
    save(out_path, result)


if __name__ == "__main__":
    main()
