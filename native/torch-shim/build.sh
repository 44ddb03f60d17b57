#!/usr/bin/env bash
# Builds libtorchshim.so (Release) into native/torch-shim/build. Idempotent and incremental.
# TORCH_PREFIX=/path/to/libtorch selects another libtorch (e.g. a CUDA build); default: the system one.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
jobs="${TORCH_SHIM_JOBS:-2}"
args=(-S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=Release)
if [ -n "${TORCH_PREFIX:-}" ]; then args+=("-DCMAKE_PREFIX_PATH=$TORCH_PREFIX"); fi
if [ ! -f "$here/build/CMakeCache.txt" ] || [ -n "${TORCH_PREFIX:-}" ]; then
  cmake "${args[@]}" >/dev/null
fi
cmake --build "$here/build" -j"$jobs"
