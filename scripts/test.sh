#!/usr/bin/env bash
# The second README command: install, build, and run the whole test suite through ctest, then
# the sanitizer build: the parsers' fuzz targets over their corpora and the parsers' unit tests
# under AddressSanitizer + UndefinedBehaviorSanitizer (docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
(cd build && ctest --output-on-failure -j "$(nproc)" --timeout 600 "$@")
if [ ! -f build-fuzz/CMakeCache.txt ]; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S fuzz -B build-fuzz "${generator[@]}" -DCMAKE_CXX_COMPILER=clang++ >/dev/null
fi
cmake --build build-fuzz -j "$(nproc)"
cd build-fuzz
exec ctest --output-on-failure -j "$(nproc)" --timeout 600 "$@"
