#!/usr/bin/env bash
# A 2048 x 2500 radiograph through the imaging path (`medfusion denoise`, the bundled 128-trained denoiser at its
# defaults), tiled under two budgets, and whole where this 24 GB machine can hold it (a 1024 x 1024 radiograph, as the
# whole 2048 x 2500 one needs more memory than the machine has). Records seconds and peak RSS (GNU time) against the
# budget and the model's estimate. Usage: bash bench/imaging/large-radiograph.sh [OUT.md]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out="${1:-/dev/stdout}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for size in 2048x2500 1024x1024; do
  python3 bench/imaging/make_radiograph.py "$work/$size.bmp" "${size%x*}" "${size#*x}"
  img2dcm -i BMP "$work/$size.bmp" "$work/$size.dcm" >/dev/null
done
dotnet build src/MedfusionDicom.Cli -c Release -nologo -v q >/dev/null
cli="dotnet src/MedfusionDicom.Cli/bin/Release/net10.0/medfusion.dll"
{
  echo "| image | run | memory budget (MB) | windows | seconds | peak RSS (MB) | RSS / budget |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  for run in "1024x1024:whole:16384" "1024x1024:tiled:512" "2048x2500:tiled:512" "2048x2500:tiled:128"; do
    IFS=: read -r size name budget <<<"$run"
    /usr/bin/time -f "%e %M" -o "$work/time" $cli denoise "$work/$size.dcm" "$work/out.dcm" --model cdiff-cxr-denoise \
      --memory-budget "$budget" --batch-size 8 2>"$work/log" || { cat "$work/log" "$work/time" >&2; exit 1; }
    read -r seconds rss_kb < "$work/time"
    windows=$([ "$name" = whole ] && echo 1 || python3 -c "
w,h,win=${size%x*},${size#*x},128; step=int(win*0.75)
f=lambda n: len(range(0,n-win,step))+1
print(f(w)*f(h))")
    rss_mb=$((rss_kb / 1024))
    echo "| $size | $name | $budget | $windows | $seconds | $rss_mb | $(python3 -c "print(f'{$rss_mb/$budget:.2f}')") |"
  done
} > "$out"
