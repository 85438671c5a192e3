#!/usr/bin/env bash
# The first README command: install, build, and run the default job — GLM-Image (tiny preset) on
# 2 CPU ranks under sequence parallelism (Ulysses), the AR stage on rank 0 and its tokens sent to
# rank 1, every check on, writing reports/<run-id>/ (summary.md, report.html, results.csv, image).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
exec build/bin/glmh run --model tiny --world-size 2 --sp 2 --height 256 --width 256 --steps 8 \
  --prompt 'A red poster that says "glmh"' --reports reports "$@"
