#!/usr/bin/env bash
# Reproduce the shipped tiny default (src/xdub/assets/default) from scratch on CPU.
#
#   scripts/train_default.sh [OUT=runs/chain]
#
# 1. `xdub train chain` runs codec -> lip-sync scorer -> occluder segmenter -> landmark refiner
#    -> stage-1 inpainter -> phase measurement -> robust decoder -> pseudo-pairs -> stage-2
#    editor -> default folder, each step in OUT/<step>/ (rerun the
#    script after an interruption: finished steps are skipped, the running one resumes);
# 2. the default folder is copied into the package;
# 3. the issue-#12 figures of the copied default (scripts/eval_editors.py on the held-out bench
#    seeds, 6 scenarios x 2 clips x 2 s, as the README table) are written into its
#    manifest.json (metrics.issue12_heldout), and its mouth strips (input | copy | exact render
#    | default | answer, 8 timestamps per scenario) into docs/images/default_strips.jpg.
# Every step uses one thread per process (shared CPUs); OUT/chain_times.json has the wall time
# of each step.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/chain}"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

xdub train chain --config configs/train/chain_tiny.yaml --out "$OUT"

rm -rf src/xdub/assets/default
cp -r "$OUT/default" src/xdub/assets/default

python scripts/eval_editors.py --editor default=src/xdub/assets/default --out "$OUT/eval" \
  --clips 2 --duration 2 --manifest src/xdub/assets/default --strips docs/images/default_strips.jpg
cat "$OUT/chain_times.json"
