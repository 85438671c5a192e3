#!/usr/bin/env bash
# Soak test of how glmh runs end: N short CPU runs (tiny preset, Gloo) under random layouts, each
# with a random injected failure (or none) or a known fault mode, and for every run:
#   - it ends on its own within the bound (never killed by this script: a hang is a finding);
#   - its exit code is the one its failure calls for (docs/faults.md#exit-codes): none 0, a
#     checked fault or a perturbed request 1, a refused injection 2 (fast, one line), a rank that
#     throws, exits, dies, stalls or freezes 3;
#   - no rank process is left behind, no launcher directory (/tmp/glmh-run-PID-*) remains, no
#     half-written file (*.tmp) is left in the run directory, and a run that ended its checks left
#     no staging of it (docs/reliability.md#crash-safe-outputs).
# Usage: scripts/soak.sh [RUNS (200)] [SEED (1)]   (GLMH: the binary, default build/bin/glmh)
# Prints one line per run and a summary; exits 1 on any finding. Runs sequentially: ~15-30 min.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
RANDOM=${2:-1}
glmh=${GLMH:-build/bin/glmh}
work=$(mktemp -d /tmp/glmh-soak-XXXXXX)
bound=150  # seconds: --timeout 5, a stalled main rank ends at --run-timeout 40, plus start-up
layouts=("--world-size 2 --sp 2" "--world-size 2 --sp 2 --ring 2" "--world-size 2 --tp 2" "--world-size 2 --cfg 2"
         "--world-size 4 --sp 2 --cfg 2" "--world-size 2 --tp 2 --ar-strategy tp"
         "--world-size 2 --sp 2 --ar-strategy replicated" "--world-size 3 --sp 3 --ring 3")
kinds=(none none throw exit kill stall freeze perturb fault)
stages=(glm_image.ar glm_image.before_denoising glm_image.denoising glm_image.decoding)
faults=("--world-size 2 --sp 2 --fault unsharded-rope" "--world-size 2 --sp 2 --fault ar-per-rank-seed"
        "--world-size 2 --sp 2 --ring 2 --fault ring-prefix-no-rotate" "--world-size 2 --sp 2 --fault skip-broadcast"
        "--world-size 2 --tp 2 --fault tp-allreduce-fp16" "--world-size 2 --sp 2 --fault ar-seed-from-layout")
request=(--model tiny --height 64 --width 96 --steps 2 --prompt 'A poster that says "glmh"' --timeout 5 --run-timeout 40)

# A reference per request, so that runs compare without making their own.
"$glmh" run "${request[@]}" --world-size 1 --out "$work/reference" > "$work/reference.log" 2>&1 ||
  { echo "soak: the single-rank reference failed (see $work/reference.log)"; exit 1; }

findings=0
declare -A tally
for ((i = 1; i <= runs; i++)); do
  kind=${kinds[RANDOM % ${#kinds[@]}]}
  layout=${layouts[RANDOM % ${#layouts[@]}]}
  world=$(sed -E 's/--world-size ([0-9]+).*/\1/' <<< "$layout")
  extra=() expect=0 what=$kind
  case $kind in
    none) ;;
    fault) layout=${faults[RANDOM % ${#faults[@]}]}; expect=1; what="fault:${layout##*--fault }" ;;
    perturb) extra=(--inject "perturb:$((1 + RANDOM % (world - 1))):glm_image.ar"); expect=1; what=${extra[1]} ;;
    *)
      stage=${stages[RANDOM % ${#stages[@]}]}
      at=""
      [ "$stage" = glm_image.ar ] && [ $((RANDOM % 2)) = 0 ] && at="@$((1 + RANDOM % 40))"
      [ "$stage" = glm_image.denoising ] && [ $((RANDOM % 2)) = 0 ] && at="@1"
      extra=(--inject "$kind:$((RANDOM % world)):$stage$at"); expect=3; what=${extra[1]} ;;
  esac
  out="$work/run-$i"
  start=$SECONDS
  # shellcheck disable=SC2086
  "$glmh" run "${request[@]}" $layout "${extra[@]}" --reference "$work/reference" --out "$out" > "$out.log" 2>&1 &
  pid=$!
  ( sleep "$bound"; kill -KILL "$pid" 2> /dev/null ) &
  watchdog=$!
  wait "$pid"
  rc=$? took=$((SECONDS - start))
  kill "$watchdog" 2> /dev/null; wait "$watchdog" 2> /dev/null
  problems=()
  if [ $rc = 137 ]; then problems+=("hung: killed after $bound s");
  elif [ $rc = 2 ] && [ "$expect" = 3 ]; then
    # A combination the injection refuses as one that could never fire: fine if refused at once.
    [ $took -gt 10 ] && problems+=("refused only after $took s")
    expect=2
  elif [ $rc != "$expect" ]; then problems+=("exit $rc, expected $expect"); fi
  sleep 0.3
  # Ranks write into the launcher's staging (--out OUT.partial-... --recorded-out OUT).
  if pgrep -f -- "--(out|recorded-out) $out( |$)" > /dev/null; then
    problems+=("rank processes left: $(pgrep -f -- "--(out|recorded-out) $out( |$)" | tr '\n' ' ')")
  fi
  leftovers=$(find /tmp -maxdepth 1 -name "glmh-run-$pid-*" 2>/dev/null | wc -l)
  [ "$leftovers" -gt 0 ] && problems+=("its launcher directory /tmp/glmh-run-$pid-* was left")
  [ -d "$out" ] && [ -n "$(find "$out" -name '*.tmp*' -o -name '*.partial-*' 2>/dev/null)" ] &&
    problems+=("half-written files under the final name: $(find "$out" -name '*.tmp*' -o -name '*.partial-*')")
  # A run that ended its checks (0, 1) has put its directory in place: no staging of it remains.
  if [ "$rc" -le 1 ] && compgen -G "$out.partial-*" > /dev/null; then problems+=("its staging $out.partial-* was left"); fi
  tally["$expect"]=$(( ${tally["$expect"]:-0} + 1 ))
  if [ ${#problems[@]} -gt 0 ]; then
    findings=$((findings + 1))
    echo "run $i FINDING ($what; $layout; ${took} s): ${problems[*]} — log $out.log"
  else
    echo "run $i ok: exit $rc in ${took} s ($what; $layout)"
    rm -rf "$out" "$out.log"
  fi
done
echo "soak: $runs runs, $findings finding(s); expected exits: 0 x${tally[0]:-0}, 1 x${tally[1]:-0}, 2 x${tally[2]:-0}, 3 x${tally[3]:-0}; work dir $work"
[ $findings = 0 ] && rm -rf "$work"
[ $findings = 0 ]
