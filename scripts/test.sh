#!/usr/bin/env bash
# The second README command: install, build, and run the whole test suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
cd build
exec ctest --output-on-failure -j "$(nproc)" --timeout 600 "$@"
