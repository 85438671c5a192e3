#!/usr/bin/env bash
# The GPU acceptance runs of the parallel layouts: the full preset at 1024x1024 in bf16, first on
# one GPU (the single-rank reference), then each 2-GPU layout checked against it with glmh run.
# Usage: scripts/gpu-parallel-layouts.sh OUT [layout ...]
#   layouts: reference sp2-ulysses sp2-ring tp2 cfg2 ar-tp2 (default: all but ar-tp2, in that order)
#   SEED (default 42) and STEPS (default 8) set the request.
# Each run writes OUT/<layout>/results.csv, latents, prior tokens, image.png and OUT/<layout>.log.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: $0 OUT [layout ...]}
shift
layouts=("$@")
[ ${#layouts[@]} -eq 0 ] && layouts=(reference sp2-ulysses sp2-ring tp2 cfg2)
glmh=${GLMH:-build-gpu/bin/glmh}
common=(--model full --device cuda --dtype bf16 --height 1024 --width 1024 --steps "${STEPS:-8}" --seed "${SEED:-42}"
        --prompt 'A neon storefront sign that says "GLM Image" above a rainy street' --timeout 120)
mkdir -p "$out"
status=0
for layout in "${layouts[@]}"; do
  case $layout in
    reference)   args=(--world-size 1) ;;
    sp2-ulysses) args=(--world-size 2 --sp 2) ;;
    sp2-ring)    args=(--world-size 2 --sp 2 --ring 2) ;;
    tp2)         args=(--world-size 2 --tp 2) ;;
    cfg2)        args=(--world-size 2 --cfg 2) ;;
    ar-tp2)      args=(--world-size 2 --tp 2 --ar-strategy tp) ;;
    *) echo "unknown layout $layout" >&2; exit 2 ;;
  esac
  [ "$layout" != reference ] && args+=(--reference "$out/reference")
  SECONDS=0
  "$glmh" run "${common[@]}" "${args[@]}" --out "$out/$layout" > "$out/$layout.log" 2>&1
  rc=$?
  echo "$layout: exit $rc in $SECONDS s"
  grep -E "check|stage" "$out/$layout.log" | sed 's/^/  /'
  [ $rc -ne 0 ] && status=1
done
exit $status
