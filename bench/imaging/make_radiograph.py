#!/usr/bin/env python3
"""Writes an 8-bit grayscale BMP of a radiograph-like image (smooth shapes, texture, noise) for img2dcm: the benchmark
needs a detector-sized image and the repository ships none. Standard library only."""
import math, random, struct, sys

def main(path, width, height, seed=1):
    rng = random.Random(seed)
    blobs = [(rng.random() * width, rng.random() * height, (0.05 + rng.random() * 0.2) * width, rng.random() * 80 - 30) for _ in range(12)]
    row_bytes = (width + 3) // 4 * 4
    pixels = bytearray(row_bytes * height)
    for y in range(height):
        base = 90 + 40.0 * y / height
        for x in range(width):
            v = base + 10 * math.sin(x * 0.021) * math.sin(y * 0.017)
            for bx, by, r, a in blobs:
                dx, dy = x - bx, y - by
                if abs(dx) < 4 * r and abs(dy) < 4 * r:
                    v += a * math.exp(-(dx * dx + dy * dy) / (2 * r * r))
            v += 12 * (rng.random() - 0.5)
            # BMP rows go bottom-up.
            pixels[(height - 1 - y) * row_bytes + x] = max(0, min(255, int(round(v))))
    palette = b"".join(bytes((i, i, i, 0)) for i in range(256))
    offset = 14 + 40 + len(palette)
    header = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 0, len(pixels), 2835, 2835, 256, 256)
    with open(path, "wb") as f:
        f.write(header + info + palette + pixels)

if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
