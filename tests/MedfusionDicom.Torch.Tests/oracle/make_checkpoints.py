"""Writes torch.save files for the serialization tests: usage: make_checkpoints.py OUTDIR MARKER_PATH"""
import argparse
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn

import st


class Evil:
    """Unpickling this with pickle would run a shell command; our loader must not."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def model():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GroupNorm(2, 8), nn.SiLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 5))


def main():
    out, marker = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    base = torch.randn(4, 6)
    tensors = OrderedDict(
        f32=torch.randn(2, 3, 4), f64=torch.randn(3, dtype=torch.float64), f16=torch.randn(5).half(),
        bf16=torch.randn(2, 2).to(torch.bfloat16), i64=torch.arange(7), i32=torch.arange(6, dtype=torch.int32).reshape(2, 3),
        u8=torch.arange(250, 256, dtype=torch.uint8), i8=torch.tensor([-3, 4], dtype=torch.int8), b=torch.tensor([True, False, True]),
        transposed=base.t(), shared_row=base[1], scalar=torch.tensor(2.5))
    torch.save(tensors, os.path.join(out, "tensors.pt"))
    st.save(os.path.join(out, "tensors_expected.safetensors"), {k: v.contiguous() for k, v in tensors.items()})

    m = model()
    x = torch.randn(2, 3, 4, 4)
    st.save(os.path.join(out, "model_io.safetensors"), {"x": x, "y": m(x)})
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    m(x).sum().backward()
    opt.step()
    st.save(os.path.join(out, "model_io_after.safetensors"), {"x": x, "y": m(x)})
    torch.save(m.state_dict(), os.path.join(out, "state_dict.pt"))
    ckpt = {
        "epoch": 3, "global_step": 1200, "pytorch-lightning_version": "2.1.0",
        "state_dict": OrderedDict((f"model.{k}", v) for k, v in m.state_dict().items()),
        "optimizer_states": [opt.state_dict()], "lr_schedulers": [],
        "hparams_name": "kwargs", "hyper_parameters": argparse.Namespace(lr=1e-4, channels=[64, 128], name="unet"),
        "callbacks": {"ModelCheckpoint": {"best_model_score": torch.tensor(0.25), "monitor": "val_loss"}},
        "loops": {"fit_loop": {"epoch_progress": {"total": {"ready": 4}}}}, "big": 2 ** 70, "neg": -5, "pi": 3.14159,
    }
    torch.save(ckpt, os.path.join(out, "lightning.ckpt"))
    torch.save({"weight": torch.ones(2), "payload": Evil(marker)}, os.path.join(out, "evil.pt"))


if __name__ == "__main__":
    main()
