"""PyTorch side of the tensor-runtime benchmark: the same residual block stack, weights and input as the C# side.

usage: /usr/bin/python3 bench.py weights.safetensors threads output.safetensors
Prints "ready <threads>", then answers commands on stdin, one line each, so that the C# side can interleave
single iterations of both runtimes (the machine's load then affects both alike):
  f  -> time one forward pass under no_grad, print milliseconds
  b  -> time one forward + backward pass, print milliseconds
  o  -> write the last forward output to output.safetensors, print "ok"
"""
import json
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    entries = {k: v for k, v in json.loads(raw[8:8 + n]).items() if k != "__metadata__"}
    assert all(v["dtype"] == "F32" for v in entries.values()), "the benchmark writes float32 only"
    body = bytearray(raw[8 + n:])
    return {k: torch.frombuffer(body, dtype=torch.float32, offset=v["data_offsets"][0],
                                count=(v["data_offsets"][1] - v["data_offsets"][0]) // 4).reshape(v["shape"]).clone()
            for k, v in entries.items()}


class ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(32, c), nn.Conv2d(c, c, 3, padding=1)
        self.norm2, self.conv2 = nn.GroupNorm(32, c), nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))


def main():
    path, threads, out_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    torch.set_num_threads(threads)
    tensors = read_safetensors(path)
    x = tensors.pop("input")
    blocks = len({k.split(".")[0] for k in tensors})
    model = nn.Sequential(*[ResBlock(x.shape[1]) for _ in range(blocks)])
    model.load_state_dict(tensors)
    y = None
    print("ready", torch.get_num_threads(), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        t0 = time.perf_counter()
        if cmd == "f":
            with torch.no_grad():
                y = model(x)
        elif cmd == "b":
            model(x).mean().backward()
            model.zero_grad(set_to_none=True)
        elif cmd == "o":
            with open(out_path, "wb") as f:  # the forward output, for the same-work check
                h = json.dumps({"output": {"dtype": "F32", "shape": list(y.shape), "data_offsets": [0, y.numel() * 4]}}).encode()
                h += b" " * ((8 - len(h) % 8) % 8)
                f.write(struct.pack("<Q", len(h)) + h + y.contiguous().numpy().tobytes())
            print("ok", flush=True)
            continue
        else:
            break
        print((time.perf_counter() - t0) * 1e3, flush=True)


if __name__ == "__main__":
    main()
