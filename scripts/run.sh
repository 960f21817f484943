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
/usr/bin/python3 - "$run/metrics.jsonl" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
for l in r["layers"]:
    print("  %-5s %5s -> %-5s spectral norm %.6g in [%.6g, %.6g]   spectral_norm() would say %.6g"
          % (l["name"], l["input_shape"], l["output_shape"], l["spectral_norm"], l["lower_bound"],
             l["upper_bound"], l["reshaped_weight_norm"]))
print("  critic upper bound while training (%s): %.6g; product of the layer norms %.6g"
      % (r["critic_bound_method"], r["critic_upper_bound"], r["critic_product_bound"]))
print("  gradient norm at interpolates: mean %.4f, max %.4f" % (r["grad_norm_mean"], r["grad_norm_max"]))
PY
echo
echo "== lipschitz report $run/checkpoint.pt: the critic's Lipschitz constant, whole plane and data domain =="
build/bin/lipschitz report "$run/checkpoint.pt" --json --output "$run/lipschitz.json"
build/bin/lipschitz report "$run/checkpoint.pt" --json --domain data --output "$run/lipschitz_data.json"
/usr/bin/python3 - "$run" <<'PY'
import json, sys
run = sys.argv[1]
last = json.loads(open(run + "/metrics.jsonl").read().splitlines()[-1])
measured = max(last["grad_norm_max"], last["grad_norm_real_max"], last["grad_norm_fake_max"])
for name, what in (("lipschitz.json", "whole plane"), ("lipschitz_data.json", "data domain")):
    n = json.load(open(run + "/" + name))["network"]
    print("  Lip(D) over the %s: certified <= %.6g (%s), lower bound %.6g%s" % (
        what, n["upper_bound"], n["method"], n["lower_bound"], ", exact within 1 %" if n["exact"] else ""))
    for b in n["bounds"]:
        print("      %-10s %12.6g  %7.3f s  %s" % (b["method"], b["upper_bound"] or float("inf"),
                                                   b["seconds"], "certified" if b["certified"] else b["note"]))
print("  measured max |grad D| at the last monitoring step (real, fake, interpolates): %.4f" % measured)
PY
echo
echo "The run as one page (charts, samples, alerts): $run/view.html"
echo "Samples: $run/samples/latest.png   Metrics: $run/metrics.jsonl, $run/metrics.csv"
echo "A single layer's spectrum: build/bin/lipschitz conv --example [--padding-mode circular --all]"
