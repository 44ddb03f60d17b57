"""Packs what train_demo_models.py needs into one small folder that can travel to a GPU machine.

usage: /usr/bin/python3 scripts/gpu/pack_training_data.py [--data ../shared/data/cxr-pneumonia] [--out .gpu]
Writes OUT/cxr_train_delta.xz (the official train split of cxr128.npy, uint8 128x128, each row delta-coded mod 256
and xz-compressed: about 52 MB, against 85 MB raw), OUT/cxr_train.meta (two bytes an image: label 0 NORMAL /
1 PNEUMONIA, then 1 when CxrDataset holds it out for validation), and OUT/configs/NAME.json: each bundled model's
config.json with batch sizes and learning rates for a GPU. The validation hold-out is CxrDataset's exactly (FNV-1a
of the source file name, 5 %), so the C# evaluation never scores a model on images it was trained on.
"""
import argparse
import csv
import json
import lzma
import os

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
# Larger batches than the CPU configs; learning rates as tuned for them (see models/*/MODEL_CARD.md).
GPU_OVERRIDES = {
    "cdiff-cxr-denoise": {"batchSize": 128, "learningRate": 2e-4},
    "cdiff-cxr-sr2x": {"batchSize": 128, "learningRate": 2e-4},
    "cdiff-cxr-inpaint": {"batchSize": 128, "learningRate": 2e-4},
    "medfusion-cxr": {"batchSize": 128, "learningRate": 3e-4},
    "medfusion-cxr-vae": {"batchSize": 64, "learningRate": 1e-3, "cropSize": 64},
}


def is_validation(source_file, fraction=0.05):
    h = 2166136261
    for ch in source_file:  # UTF-16 code units in C#; the names are ASCII
        h = ((h ^ ord(ch)) * 16777619) & 0xFFFFFFFF
    return h % 10000 < fraction * 10000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "cxr-pneumonia"))
    ap.add_argument("--out", default=os.path.join(ROOT, ".gpu"))
    a = ap.parse_args()
    os.makedirs(os.path.join(a.out, "configs"), exist_ok=True)
    images = np.load(os.path.join(a.data, "cxr128.npy"), mmap_mode="r")
    with open(os.path.join(a.data, "labels.csv"), newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "train"]
    index = np.array([int(r["index"]) for r in rows])
    train = np.ascontiguousarray(images[index])
    delta = np.diff(train, axis=2, prepend=np.zeros((len(train), 128, 1), np.uint8)).astype(np.uint8)  # wraps mod 256
    with open(os.path.join(a.out, "cxr_train_delta.xz"), "wb") as f:
        f.write(lzma.compress(delta.tobytes(), preset=6))
    meta = np.array([[r["label"] == "PNEUMONIA", is_validation(r["source_file"])] for r in rows], np.uint8)
    meta.tofile(os.path.join(a.out, "cxr_train.meta"))
    for name, override in GPU_OVERRIDES.items():
        source = os.path.join(ROOT, "models", "medfusion-cxr", "vae", "config.json") if name.endswith("-vae") \
            else os.path.join(ROOT, "models", name, "config.json")
        cfg = json.load(open(source))
        cfg.update(override)
        json.dump(cfg, open(os.path.join(a.out, "configs", name + ".json"), "w"), indent=2)
    print(f"{len(rows)} train-split images ({int(meta[:, 1].sum())} held out for validation) and "
          f"{len(GPU_OVERRIDES)} configs in {a.out}")


if __name__ == "__main__":
    main()
