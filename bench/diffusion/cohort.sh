#!/usr/bin/env bash
# Synthetic cohort throughput (issue 16): `medfusion cohort` images/s at the default steps (DPM-Solver++ 2M, 25), the
# memorization screen's share of the time, and the same count of images from plain `medfusion sample` (the peer:
# sampling and writing loose SC files, nothing else) measured alternately in the same run.
# usage: bash bench/diffusion/cohort.sh [PATIENTS] [ROUNDS] [DATA]   (prints Markdown; run from the repository root)
set -euo pipefail
patients="${1:-50}"
rounds="${2:-3}"
data="${3:-../shared/data/cxr-pneumonia/cxr128.npy}"
medfusion() { bash scripts/medfusion "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rows=()
for r in $(seq 1 "$rounds"); do
  start=$(date +%s.%N)
  medfusion sample --model medfusion-cxr --label PNEUMONIA --count "$patients" --out "$work/sample-$r" --device cpu 2>/dev/null
  sample_s=$(echo "$(date +%s.%N) - $start" | bc -l)
  medfusion cohort --model medfusion-cxr --patients "$patients" --mix NORMAL=0.5,PNEUMONIA=0.5 --out "$work/cohort-$r" \
    --training-data "$data" --device cpu >/dev/null 2>&1
  rows+=("$(python3 - "$work/cohort-$r/report.json" "$patients" "$sample_s" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); n = int(sys.argv[2]); sample_s = float(sys.argv[3])
t = r["timings"]
print(f'{t["imagesPerSecond"]:.3f} {n / sample_s:.3f} {t["screenShare"]:.3f} {t["totalSeconds"]:.1f} {sample_s:.1f} {t["metricsSeconds"]:.1f} {r["screen"]["trainingImages"]}')
PY
)")
done
python3 - "$patients" "${rows[@]}" <<'PY'
import statistics, sys
n = int(sys.argv[1]); rows = [list(map(float, r.split())) for r in sys.argv[2:]]
med = lambda i: statistics.median(r[i] for r in rows)
print(f"{n} patients x 1 image, medfusion-cxr, DPM-Solver++ 2M 25 steps, screened against {int(rows[0][6])} training images; median of {len(rows)} alternating rounds")
print()
print("| measure | cohort | sample (peer) | cohort / sample |")
print("|---|---:|---:|---:|")
print(f"| images/s (generation: sampling, screening, writing) | {med(0):.2f} | {med(1):.2f} (whole command) | {med(0) / med(1):.2f} |")
print(f"| whole command, s | {med(3):.1f} (metrics {med(5):.1f}) | {med(4):.1f} | {med(3) / med(4):.2f} |")
print(f"| screen's share of generation time | {med(2) * 100:.1f} % | | |")
PY
