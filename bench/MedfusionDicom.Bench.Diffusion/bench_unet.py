"""Times the PyTorch model of the parity test on the same weights and input as the C# benchmark.
Usage: bench_unet.py CONFIG.json WEIGHTS IN.safetensors ROUNDS -> prints the median seconds per forward and per
forward + backward (of the output's sum, gradients cleared before each)."""
import json
import os
import statistics
import sys
import time

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "tests", "MedfusionDicom.Diffusion.Tests", "Parity"))
import medfusion_reference as ref  # noqa: E402

cfg_path, weights, inputs, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
torch.set_num_threads(1)
net = ref.UNet(json.load(open(cfg_path)))
net.load_state_dict(ref.load(weights))
net.eval()
x = ref.load(inputs)
times = []
with torch.no_grad():
    net(x["x"], x["t"], x["labels"])  # warm-up
    for _ in range(rounds):
        start = time.perf_counter()
        net(x["x"], x["t"], x["labels"])
        times.append(time.perf_counter() - start)
backward = []
net.zero_grad(set_to_none=True)
net(x["x"], x["t"], x["labels"])[0].sum().backward()  # warm-up
for _ in range(rounds):
    net.zero_grad(set_to_none=True)
    start = time.perf_counter()
    net(x["x"], x["t"], x["labels"])[0].sum().backward()
    backward.append(time.perf_counter() - start)
print(statistics.median(times), statistics.median(backward))
