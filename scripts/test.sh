#!/usr/bin/env bash
# The whole test suite: set up, build, then every test through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
cd build
ctest --output-on-failure --timeout 900 -j 1
