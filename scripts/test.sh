#!/usr/bin/env bash
# The whole test suite: set up, build, then every test through CTest.
#   --sanitize  the same suite built with clang, AddressSanitizer and UBSan in build/sanitize
#               (the Python modules left out), with each fuzz target also run for a few seconds
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--sanitize" ]; then
  scripts/setup.sh --tests --sanitize
  cd build/sanitize
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  ctest --output-on-failure --timeout 2700 -j 1
elif [ $# -gt 0 ]; then
  echo "test: unknown option $1 (--sanitize)" >&2
  exit 2
else
  scripts/setup.sh --tests
  cd build
  ctest --output-on-failure --timeout 900 -j 1
fi
