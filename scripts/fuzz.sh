#!/usr/bin/env bash
# Long fuzzing runs: scripts/fuzz.sh [TARGET|all] [SECONDS] (default: all, 600 s each).
# Builds the libFuzzer targets (clang, ASan + UBSan) in ./build/sanitize, then runs each target
# for SECONDS, JOBS targets at a time (default: the number of cores), one core each. The corpus
# grows in build/sanitize/fuzz/work/TARGET (kept between runs); a crashing input is written to
# build/sanitize/fuzz/artifacts/TARGET-crash-* — add it to fuzz/regressions/TARGET/ with its
# fix. Targets: npy idx cifar image train_options run_files onnx torchscript checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL=(npy idx cifar image train_options run_files onnx torchscript checkpoint)
target="${1:-all}"
seconds="${2:-600}"
if [ "$target" = all ]; then targets=("${ALL[@]}"); else targets=("$target"); fi
for t in "${targets[@]}"; do
  [[ " ${ALL[*]} " == *" $t "* ]] || { echo "fuzz: unknown target '$t' (${ALL[*]}, all)" >&2; exit 2; }
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: SECONDS must be a positive integer: got '$seconds'" >&2; exit 2; }

scripts/setup.sh --sanitize --no-build
dir=build/sanitize
cmake --build $dir -j "$(nproc)" --target "${targets[@]/%/_fuzz}"

mkdir -p $dir/fuzz/artifacts $dir/fuzz/logs
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
run_one() {
  local t=$1 inputs=(fuzz/corpus/$1)
  [ -d fuzz/regressions/$t ] && inputs+=(fuzz/regressions/$t)
  mkdir -p $dir/fuzz/work/$t
  # -rss_limit_mb / -malloc_limit_mb: a reader that believes a size in the file and allocates
  # gigabytes is a defect (a clear error is expected), and so is one input taking 30 s.
  if $dir/bin/${t}_fuzz -max_total_time="$seconds" -rss_limit_mb=2560 -malloc_limit_mb=2048 \
      -timeout=30 -print_final_stats=1 -artifact_prefix=$dir/fuzz/artifacts/$t- \
      $dir/fuzz/work/$t "${inputs[@]}" >$dir/fuzz/logs/$t.log 2>&1; then
    echo "fuzz: $t: $(grep -E '^stat::number_of_executed_units' $dir/fuzz/logs/$t.log | awk '{print $2}') runs," \
         "$(grep -oE 'cov: [0-9]+ ft: [0-9]+' $dir/fuzz/logs/$t.log | tail -1), no crash"
  else
    echo "fuzz: $t: FAILED, see $dir/fuzz/logs/$t.log and $dir/fuzz/artifacts/$t-*"
    return 1
  fi
}
export -f run_one
export dir seconds
printf '%s\n' "${targets[@]}" | xargs -P "${JOBS:-$(nproc)}" -I{} bash -c 'run_one {}'
