#!/usr/bin/env bash
# Installs what lipschitz needs from Debian 12's packages (as root, or through sudo) and builds
# it in ./build. Safe to run again: installs only what is missing, rebuilds incrementally.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config ccache
  libfftw3-dev libeigen3-dev libboost-program-options-dev doctest-dev libbenchmark-dev
  libsdp-dev                           # CSDP, the SDP solver of the LipSDP bound
  libtorch-dev libstb-dev zlib1g-dev   # the GAN trainer (gan/, lipschitz train/sample/eval)
  libonnx-dev libprotobuf-dev          # ONNX models (report/, lipschitz report)
  nlohmann-json3-dev librsvg2-dev fonts-dejavu-core   # the run pages (view/, lipschitz view)
  dataset-fashion-mnist                # the default image data set (IDX files)
  python3-numpy python3-torch
  pybind11-dev python3-dev            # the Python package (python/, import lipschitz)
  python3-setuptools python3-wheel python3-pip python3-venv   # pip install ./python, offline
  libopenblas0-pthread   # makes numpy and LibTorch use OpenBLAS instead of the reference BLAS
)

# The test suite also opens a run's page in a real browser, and runs the Python tests with pytest.
[ "${1:-}" = "--tests" ] && PACKAGES+=(chromium python3-pytest)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DLIPSCHITZ_BUILD_GAN=ON >/dev/null
cmake --build build -j "$(nproc)"
