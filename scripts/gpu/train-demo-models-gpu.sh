#!/usr/bin/env bash
# Trains the four demo models at once on one CUDA GPU (see train_demo_models.py), each for SECONDS, then packs the
# model directories into tar files of at most 16 MiB under OUT.
# Usage: scripts/gpu/train-demo-models-gpu.sh DATA_DIR CONFIG_DIR OUT SECONDS [VAE_SECONDS]
set -euo pipefail
data=$1 configs=$2 out=$3 seconds=$4 vae_seconds=${5:-150}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pids=()
for job in cdiff-cxr-denoise cdiff-cxr-sr2x cdiff-cxr-inpaint medfusion-cxr; do
  PYTHONUNBUFFERED=1 python3 "$here/train_demo_models.py" --data "$data" --configs "$configs" --out "$work" \
    --job "$job" --seconds "$seconds" --vae-seconds "$vae_seconds" > "$out/$job.log" 2>&1 &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
cat "$out"/*.log
cd "$work"
m=medfusion-cxr
tar cf "$out/cdiff-a.tar" cdiff-cxr-denoise cdiff-cxr-sr2x || status=1
tar cf "$out/cdiff-b.tar" cdiff-cxr-inpaint $m/vae/model.safetensors $m/vae/config.json $m/vae/state.json || status=1
tar cf "$out/medfusion.tar" $m/model.safetensors $m/train-state.safetensors $m/config.json $m/state.json || status=1
tar cf "$out/vae-raw.tar" $m/vae/train-state.safetensors || status=1
ls -la "$out"
exit $status
