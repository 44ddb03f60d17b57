#!/usr/bin/env bash
# Quality against sampler steps, DDIM against DPM-Solver++ 2M, on the bundled models (issue 4).
# Synthesis: Fréchet distance / precision / recall in the feature space of the eval's classifier (same seed, so the
# same classifier and the same real features in every row). Denoising: PSNR on test-split radiographs.
# usage: bash bench/diffusion/steps-curve.sh [DATA] [STEPS...]   (prints Markdown; run from the repository root)
set -euo pipefail
data="${1:-../shared/data/cxr-pneumonia/cxr128.npy}"
shift || true
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(5 10 25 50 100)
medfusion() { bash scripts/medfusion "$@"; }
cell() { grep -F "| $1 |" | head -1 | awk -F'|' -v c="$2" '{gsub(/ /, "", $c); print $c}'; }

echo "### Synthesis (medfusion-cxr, 32 samples per label, classifier 1000 steps, guidance 1)"
echo
echo "| sampler | steps | Fréchet distance | precision | recall | s/image |"
echo "|---|---:|---:|---:|---:|---:|"
for sampler in ddim dpm-solver; do
  for s in "${steps[@]}"; do
    out=$(medfusion eval synthesis --model medfusion-cxr --data "$data" --count 32 --steps "$s" --sampler "$sampler" --classifier-steps 1000 2>/dev/null)
    fd=$(cell "Fréchet distance (classifier features), samples vs real test" 3 <<<"$out")
    p=$(cell "precision (k = 3)" 3 <<<"$out"); r=$(cell "recall (k = 3)" 3 <<<"$out")
    sec=$(sed -n 's/.*, \([0-9.]*\) s\/image.*/\1/p' <<<"$out" | head -1)
    echo "| $sampler | $s | $fd | $p | $r | $sec |"
  done
done
echo
echo "### Denoising (cdiff-cxr-denoise, 8 test images)"
echo
echo "| sampler | steps | PSNR (dB) | SSIM | s/image |"
echo "|---|---:|---:|---:|---:|"
for sampler in ddim dpm-solver; do
  for s in "${steps[@]}"; do
    out=$(medfusion eval denoise --model cdiff-cxr-denoise --data "$data" --count 8 --steps "$s" --sampler "$sampler" 2>/dev/null)
    sec=$(sed -n 's/.*, \([0-9.]*\) s\/image.*/\1/p' <<<"$out" | head -1)
    echo "| $sampler | $s | $(cell Med-cDiff 3 <<<"$out") | $(cell Med-cDiff 4 <<<"$out") | $sec |"
  done
done
