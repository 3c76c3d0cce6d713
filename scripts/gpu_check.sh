#!/usr/bin/env bash
# One 77-frame 512² chunk of the wan5b preset (full depth, random weights, bf16 by default)
# through the whole pipeline on one accelerator: seconds per step and per chunk and peak
# memory for each memory option; `--official-repo PATH` also times one guided step of the
# official model. Stops after 8 minutes.
#   scripts/gpu_check.sh [--device auto] [--dtype auto] [--steps 4] [--official-repo PATH]
#   scripts/gpu_check.sh --device cpu --preset reduced --steps 1      # CPU dry run
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
exec timeout 480 python benchmarks/gpu_check.py "$@"
