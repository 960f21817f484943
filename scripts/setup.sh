#!/usr/bin/env bash
# Installs what lipschitz needs from Debian 12's packages (as root, or through sudo) and builds
# it in ./build. Safe to run again: installs only what is missing, rebuilds incrementally.
#   --tests     also what the test suite needs (a browser, pytest)
#   --sanitize  build with clang, AddressSanitizer, UBSan and the libFuzzer targets in
#               ./build/sanitize instead (scripts/test.sh --sanitize, scripts/fuzz.sh)
#   --no-build  install and configure only
set -euo pipefail
cd "$(dirname "$0")/.."

tests=0 sanitize=0 build=1
for arg in "$@"; do
  case "$arg" in
    --tests) tests=1 ;;
    --sanitize) sanitize=1 ;;
    --no-build) build=0 ;;
    *) echo "setup: unknown option $arg (--tests, --sanitize, --no-build)" >&2; exit 2 ;;
  esac
done

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
[ $tests = 1 ] && PACKAGES+=(chromium python3-pytest)
# clang with libFuzzer and the sanitizer runtimes, and its OpenMP.
[ $sanitize = 1 ] && PACKAGES+=(clang libclang-rt-dev libomp-dev)

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

if [ $sanitize = 1 ]; then
  # Optimised (the suite's training runs), with frame pointers for the reports; the Python
  # modules are left out (an uninstrumented interpreter cannot load an ASan library first),
  # the benchmarks too (timings under ASan mean nothing).
  dir=build/sanitize
  CC=clang CXX=clang++ cmake -S . -B $dir -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIPSCHITZ_BUILD_GAN=ON \
    -DLIPSCHITZ_FUZZ=ON -DLIPSCHITZ_BUILD_PYTHON=OFF -DLIPSCHITZ_BUILD_BENCH=OFF >/dev/null
else
  dir=build
  cmake -S . -B $dir -DCMAKE_BUILD_TYPE=Release -DLIPSCHITZ_BUILD_GAN=ON >/dev/null
fi
[ $build = 1 ] && cmake --build $dir -j "$(nproc)"
exit 0
