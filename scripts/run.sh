#!/usr/bin/env bash
# The main job on its built-in default: set up, build, then train WGAN-GP on 8 Gaussians with
# live Lipschitz monitoring (`lipschitz train` with no options) and report the result.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
run="runs/default-$(date +%Y%m%d-%H%M%S)"
echo
echo "== lipschitz train --out $run   (WGAN-GP, 8 Gaussians, the paper's toy models) =="
build/bin/lipschitz train --out "$run"
echo
echo "== lipschitz eval $run =="
build/bin/lipschitz eval "$run"
echo
echo "== the critic's layers at the last monitoring step =="
tail -n 1 "$run/metrics.jsonl" | /usr/bin/python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
for l in r["layers"]:
    print(f"  {l[\"name\"]:5s} {l[\"input_shape\"]:>5s} -> {l[\"output_shape\"]:<5s} spectral norm {l[\"spectral_norm\"]:.6g}"
          f"  in [{l[\"lower_bound\"]:.6g}, {l[\"upper_bound\"]:.6g}]   spectral_norm() would say {l[\"reshaped_weight_norm\"]:.6g}")
print(f"  critic upper bound (product, certified): {r[\"critic_upper_bound\"]:.6g}")
print(f"  gradient norm at interpolates: mean {r[\"grad_norm_mean\"]:.4f}, max {r[\"grad_norm_max\"]:.4f}")'
echo
echo "Samples: $run/samples/latest.png   Metrics: $run/metrics.jsonl, $run/metrics.csv"
echo "A single layer's spectrum: build/bin/lipschitz conv --example [--padding-mode circular --all]"
