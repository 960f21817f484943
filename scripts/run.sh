#!/usr/bin/env bash
# The main job on its built-in default: set up, build, then the spectral report of a built-in
# example layer (DCGAN critic layer 2: 64->128, 4x4, stride 2) with zero and circular padding.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo
echo "== lipschitz conv --example  (zero padding, PyTorch's default) =="
build/bin/lipschitz conv --example
echo
echo "== lipschitz conv --example --padding-mode circular --all =="
build/bin/lipschitz conv --example --padding-mode circular --all
