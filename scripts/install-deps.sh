#!/usr/bin/env bash
# Installs glmh's build and test dependencies from Debian's packages. Idempotent: when every
# package is already installed it returns at once without touching apt.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libgloo-dev          # libtorch 1.13 (CPU) and the Gloo headers c10d's Gloo backend needs
  nlohmann-json3-dev libfccp-dev libeigen3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libpng-dev libpcre2-dev
  clang libclang-rt-dev             # libFuzzer and the sanitizers' runtimes: fuzz/ (docs/reliability.md)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root or install them yourself" >&2
  exit 2
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
