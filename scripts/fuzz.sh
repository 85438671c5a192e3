#!/usr/bin/env bash
# Fuzzes every parser of outside data (docs/reliability.md#fuzzing).
#
#   scripts/fuzz.sh SECONDS [REGEX]            build glmh and build-fuzz/, run each target (or those
#                                              whose name matches REGEX) for SECONDS, all at once up
#                                              to one per core; exit 1 on any finding
#   scripts/fuzz.sh --bundle DIR               copy the targets that need no libtorch, their shared
#                                              libraries, dictionaries and corpora into DIR
#   scripts/fuzz.sh --from-bundle DIR SECONDS [REGEX]   run a bundle's targets (another machine)
#
# Each run starts from the committed corpus (fuzz/corpus/TARGET, read only) and a scratch corpus
# (build-fuzz/corpus/TARGET, kept between runs); findings land in build-fuzz/findings/. A finding
# is fixed in the code and its input committed to fuzz/corpus/TARGET, which CI replays.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

torch_free_targets=(safetensors_header_fuzzer index_json_fuzzer component_config_fuzzer tokenizer_json_fuzzer png_fuzzer)

dict_of() {
  case "$1" in
    png_fuzzer) echo png.dict ;;
    scenario_csv_fuzzer) echo scenario_csv.dict ;;
    baseline_csv_fuzzer | results_csv_fuzzer) echo csv.dict ;;
    request_fuzzer) echo "" ;;
    *) echo json.dict ;;
  esac
}

build() {
  "$root/scripts/build.sh" >/dev/null
  if [ ! -f "$root/build-fuzz/CMakeCache.txt" ]; then
    generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    cmake -S "$root/fuzz" -B "$root/build-fuzz" "${generator[@]}" -DCMAKE_CXX_COMPILER=clang++ >/dev/null
  fi
  cmake --build "$root/build-fuzz" -j "$(nproc)" >/dev/null
}

# run BIN_DIR SHARE_DIR WORK_DIR SECONDS TARGET...: SHARE_DIR holds corpus/ and dictionaries/.
run() {
  local bin="$1" share="$2" work="$3" seconds="$4"
  shift 4
  mkdir -p "$work/findings" "$work/logs"
  local running=0
  for t in "$@"; do
    mkdir -p "$work/corpus/$t"
    local dict
    dict="$(dict_of "$t")"
    local args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
                -artifact_prefix="$work/findings/$t-")
    [ -n "$dict" ] && args+=(-dict="$share/dictionaries/$dict")
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "$bin/$t" "${args[@]}" "$work/corpus/$t" "$share/corpus/$t" >"$work/logs/$t.log" 2>&1 &
    running=$((running + 1))
    if [ "$running" -ge "$(nproc)" ]; then
      wait -n || true
      running=$((running - 1))
    fi
  done
  wait || true
  local failed=0
  printf '%-28s %8s %12s %10s %8s\n' target seconds executions "exec/s" findings
  for t in "$@"; do
    local log="$work/logs/$t.log"
    local execs rate secs findings
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    secs="$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)"
    findings="$(find "$work/findings" -name "$t-*" | wc -l)"
    printf '%-28s %8s %12s %10s %8s\n' "$t" "${secs:-?}" "${execs:-?}" "${rate:-?}" "$findings"
    if [ "$findings" -ne 0 ] || [ -z "$execs" ]; then
      failed=1
      echo "  $t: see $log" >&2
    fi
  done
  return "$failed"
}

case "${1:-}" in
  --bundle)
    dir="$2"
    build
    mkdir -p "$dir/bin" "$dir/lib"
    for t in "${torch_free_targets[@]}"; do
      cp "$root/build-fuzz/bin/$t" "$dir/bin/"
      ldd "$root/build-fuzz/bin/$t" | awk '/=> \// {print $3}' | grep -E 'pcre2|png|libz' | xargs -r cp -L -t "$dir/lib/"
    done
    cp -r "$root/fuzz/corpus" "$root/fuzz/dictionaries" "$dir/"
    cp "$0" "$dir/fuzz.sh"
    echo "bundle in $dir: ${torch_free_targets[*]}"
    ;;
  --from-bundle)
    dir="$(cd "$2" && pwd)"
    seconds="$3"
    regex="${4:-.}"
    mapfile -t targets < <(ls "$dir/bin" | grep -E "$regex")
    export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    run "$dir/bin" "$dir" "${GLMH_FUZZ_WORK:-$dir/work}" "$seconds" "${targets[@]}"
    ;;
  '' | -h | --help)
    sed -n '2,14p' "$0"
    exit 2
    ;;
  *)
    seconds="$1"
    regex="${2:-.}"
    build
    mapfile -t targets < <(sed -n 's/^glmh_fuzzer(\([a-z_]*\) .*/\1/p' "$root/fuzz/CMakeLists.txt" | grep -E "$regex")
    run "$root/build-fuzz/bin" "$root/fuzz" "$root/build-fuzz" "$seconds" "${targets[@]}"
    ;;
esac
