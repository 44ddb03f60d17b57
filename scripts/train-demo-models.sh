#!/usr/bin/env bash
# Trains (or resumes) the bundled demo models under models/ on the chest radiograph train split, at low priority
# with one torch thread each. Every run checkpoints every few minutes into its model directory and resumes from it.
#   MEDFUSION=path/to/medfusion  (default: the Release build of src/MedfusionDicom.Cli)
#   DATA=path/to/cxr-pneumonia   (default: ../shared/data/cxr-pneumonia)
#   VAE_STEPS=N                  steps of the VAE in this invocation before the latent UNet starts
#   ONLY="vae medfusion denoise sr2x inpaint"  a subset
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bin="${MEDFUSION:-$root/src/MedfusionDicom.Cli/bin/Release/net10.0/medfusion}"
data="${DATA:-$root/../shared/data/cxr-pneumonia}"
only="${ONLY:-vae medfusion denoise sr2x inpaint}"
mkdir -p models/logs
run() { nohup nice -n 10 "$bin" train "$@" >/dev/null 2>>"models/logs/$name.log" & }
for name in denoise sr2x inpaint; do
  if [[ " $only " == *" $name "* ]]; then
    run cdiff --data "$data/cxr128.npy" --config "config/models/cdiff-cxr-$name.json" --out "models/cdiff-cxr-$name"
  fi
done
if [[ " $only " == *" vae "* || " $only " == *" medfusion "* ]]; then
  name=medfusion
  # The latent UNet needs a trained VAE: the VAE runs first, for VAE_STEPS steps, in the same background chain.
  nohup nice -n 10 bash -c "
    if [[ ' $only ' == *' vae '* ]]; then '$bin' train vae --data '$data/cxr128.npy' --config config/models/medfusion-cxr-vae.json --out models/medfusion-cxr/vae --max-steps ${VAE_STEPS:-700}; fi
    '$bin' train medfusion --data '$data/cxr128.npy' --config config/models/medfusion-cxr.json --out models/medfusion-cxr
  " >/dev/null 2>>models/logs/medfusion.log &
fi
echo "training in the background; logs in models/logs/*.log"
