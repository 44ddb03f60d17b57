#!/usr/bin/env bash
# Writes models/NAME/MODEL_CARD.md from the model directory's config.json and state.json, plus an optional
# evaluation table (the Markdown `medfusion eval ...` prints). Usage: scripts/model-card.sh NAME [EVAL.md]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
name="$1"; eval_md="${2:-}"
dir="${MODEL_DIR:-$root/models/$name}"  # MODEL_DIR: a snapshot of the model directory
cfg="$dir/config.json"; state="$dir/state.json"
kind=$(jq -r .kind "$cfg")
step=$(jq -r .step "$state"); total=$(jq -r .steps "$cfg")
hours=$(jq -r '.elapsedSeconds / 3600 * 100 | floor / 100' "$state")
images=$(jq -r .imagesSeen "$state"); loss=$(jq -r '.recentLoss * 10000 | floor / 10000' "$state")
finished=$(jq -r .finished "$state")
params=$(du -b "$dir/model.safetensors" | awk '{printf "%.2f", $1 / 4 / 1e6}')
strength=$(jq -r '.maxStrength // 1' "$cfg")
train_cfg="config/models/${name//\//-}.json"
# A warm-start fine-tuning has a config of its own; a model trained truncated from the start has just one.
[ "$strength" = 1 ] || [ ! -f "$root/config/models/${name//\//-}-warmstart.json" ] || train_cfg="config/models/${name//\//-}-warmstart.json"
# FULL_RANGE_STEPS: where a warm-start fine-tuning took over from training over all timesteps
{
  echo "# $name"
  echo
  if [ "$finished" != "true" ]; then
    echo "**Partial checkpoint.** Training was stopped (or is still running) at step $step of $total; the"
    echo "weights are not converged and the metrics below are those of this partial state. Resume with"
    echo "\`scripts/train-demo-models.sh\` (or the \`medfusion train\` command below): a model directory with"
    echo "state.json continues from its last checkpoint (the optimizer's moments restart)."
    echo
  fi
  echo "- Kind: $kind$( [ "$kind" = cdiff ] && echo " ($(jq -r .task "$cfg")$( [ "$(jq -r .task "$cfg")" = super-resolve ] && echo ", scale $(jq -r .scale "$cfg")"))" )"
  echo "- Data: ../shared/data/cxr-pneumonia/cxr128.npy, official train split minus a 5 % validation hold-out (labels: $(jq -r '.labels | join(", ")' "$cfg"))$( [ "$(jq -r .cropSize "$cfg")" != 0 ] && echo ", random $(jq -r .cropSize "$cfg")x$(jq -r .cropSize "$cfg") crops (the network is fully convolutional and runs on whole images)")"
  echo "- Parameters: ${params} M (float32), weights: model.safetensors (EMA, decay $(jq -r .emaDecay "$cfg")), train-state.safetensors (raw, for resuming)"
  echo "- Training: step $step / $total, batch $(jq -r .batchSize "$cfg"), learning rate $(jq -r .learningRate "$cfg"), $images images seen, ${hours} h on a shared 2-core CPU (1 torch thread per model), recent loss $loss"
  echo "- Config: config.json here (the network part is fixed for resuming); the training config is $train_cfg"
  if [ "$(jq -r '.inpaintFill // "zero"' "$cfg")" = harmonic ]; then
    echo "- Condition: the known pixels with the harmonic (Laplace) fill of the mask (\"inpaintFill\": \"harmonic\"), so the network"
    echo "  starts from the classic answer and learns what it misses; the loss counts $( [ "$(jq -r '.lossInMaskOnly // false' "$cfg")" = true ] && echo "the masked pixels only" || echo "every pixel")"
  fi
  if [ "$strength" != 1 ]; then
    if [ "${FULL_RANGE_STEPS:-}" = 0 ]; then
      echo "- Timesteps: every training step drew t < $strength·T"
    else
      echo "- Timesteps: steps 0..${FULL_RANGE_STEPS:-?} drew t from all of [0, T) (config/models/${name//\//-}.json); from there on only t < $strength·T"
    fi
    echo "  (truncated diffusion, \"maxStrength\": $strength), the range its sampling uses: restoration starts from the input noised to"
    echo "  strength $strength by default (Come-Closer-Diffuse-Faster; \`--strength\` to change it, 1 = from pure noise as in the paper)"
  fi
  echo
  echo "Train or resume:"
  echo
  echo '```'
  case "$kind" in
    vae) echo "medfusion train vae --data ../shared/data/cxr-pneumonia/cxr128.npy --config config/models/${name//\//-}.json --out models/$name";;
    medfusion) echo "medfusion train medfusion --data ../shared/data/cxr-pneumonia/cxr128.npy --config config/models/medfusion-cxr.json --out models/$name";;
    cdiff) echo "medfusion train cdiff --data ../shared/data/cxr-pneumonia/cxr128.npy --config $train_cfg --out models/$name";;
  esac
  echo '```'
  if [ -n "$eval_md" ] && [ -s "$eval_md" ]; then
    echo
    echo "## Evaluation (test split)"
    echo
    cat "$eval_md"
  fi
} > "$dir/MODEL_CARD.md"
echo "wrote $dir/MODEL_CARD.md"
