#!/usr/bin/env bash
# The tensor runtime's device check, for a session lent a GPU: one short script (run it with the device tool from the
# repository root). It builds against TorchSharp-cuda-linux (restored from nuget.org, so the machine needs that
# registry and a .NET 10 SDK), runs the tensor parity tests and the Diffusion network tests, then the worker benchmark on
# CUDA and on the CPU, and writes everything to $OUT/torchsharp-cuda.md (and the raw logs next to it).
set -uo pipefail
out="${OUT:-artifacts/gpu}"
mkdir -p "$out"
report="$out/torchsharp-cuda.md"
{
  echo "# TorchSharp on CUDA ($(date -u +%FT%TZ))"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/- GPU: /'
  command -v dotnet >/dev/null || { echo "- no .NET SDK on this machine: nothing built"; exit 0; }
} > "$report"
command -v dotnet >/dev/null || exit 0

props=(-c Release -p:TorchBackend=cuda-linux -p:RestoreLockedMode=false)
if ! dotnet restore MedfusionDicom.sln -p:TorchBackend=cuda-linux -p:RestoreLockedMode=false --force-evaluate > "$out/restore.log" 2>&1; then
  echo "- restore of TorchSharp-cuda-linux failed (see restore.log; nuget.org must be reachable)" >> "$report"
  exit 0
fi
dotnet build MedfusionDicom.sln "${props[@]}" --no-restore -v quiet > "$out/build.log" 2>&1 || { echo "- build failed (build.log)" >> "$report"; exit 0; }
for project in MedfusionDicom.Torch.Tests MedfusionDicom.Diffusion.Tests; do
  dotnet test "tests/$project" "${props[@]}" --no-build > "$out/$project.log" 2>&1
  echo "- $project: $(grep -E '^(Passed|Failed)!' "$out/$project.log" | tail -1)" >> "$report"
done
for device in cuda cpu; do
  dotnet run --project bench/MedfusionDicom.Bench.Worker "${props[@]}" --no-build -- --model models/cdiff-cxr-denoise \
    --steps 10 --requests 16 --device "$device" > "$out/worker-$device.log" 2>&1
  { echo; echo "## Worker, --device $device"; echo; grep -E '^\|' "$out/worker-$device.log"; tail -1 "$out/worker-$device.log"; } >> "$report"
done
cat "$report"
