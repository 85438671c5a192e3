#!/usr/bin/env bash
# The first README command: install, build, and run the default job, a 2-rank CPU run of the
# demo pipeline under sequence parallelism with every check on, writing reports/<run-id>/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
exec build/bin/glmh demo --world-size 2 --sp 2 --reports reports "$@"
