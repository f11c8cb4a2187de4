#!/usr/bin/env bash
# Installs (with apt-get) everything the build, tests, benchmarks and demo need on Debian
# bookworm. Idempotent: prints nothing and changes nothing when all packages are present.
# Runs as root, or through sudo otherwise.
set -euo pipefail

packages=(
  build-essential cmake g++ make pkg-config
  libxtensor-dev libxsimd-dev xtl-dev catch2 zlib1g-dev
  libbenchmark-dev libopenblas-dev libeigen3-dev libgemmlowp-dev liblapacke-dev
  python3-torch python3-numpy python3-matplotlib
  dataset-fashion-mnist
  clang libclang-rt-14-dev
)
if [ "${1:-}" = "--with-docs" ]; then packages+=(doxygen); fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
