#!/usr/bin/env bash
# Builds glmh against a pip-installed CUDA torch (2.x) into build-gpu/, with NCCL through c10d.
#
# Needs: python3 with torch (CUDA), the CUDA toolkit's nvcc (torch's CMake config enables the CUDA
# language), cmake and ninja. GoogleTest and the other Debian dependencies come from DEVDEPS, a
# folder made by ../shared/tools/stage-device-deps on a Debian machine (default .devdeps/root);
# without them only the program is built, no tests. GLMH_TARGETS (space-separated) limits the build to
# those targets.
set -euo pipefail
cd "$(dirname "$0")/.."
devdeps=${DEVDEPS:-$PWD/.devdeps/root}
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
prefix="$torch_prefix"
tests=OFF
if [ -d "$devdeps/usr" ]; then
  prefix="$torch_prefix;$devdeps/usr"
  tests=ON
fi
nvcc=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CUDA_COMPILER="$nvcc" -DGLMH_BUILD_TESTS=$tests -DGLMH_BUILD_BENCHMARKS=$tests
targets=()
for t in ${GLMH_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build build-gpu -j "$(nproc)" "${targets[@]}"
