#!/usr/bin/python3
"""lipschitz.conv_norm (the Python module) against the PyTorch rfft2 + svdvals reference.

The certified-σ₁ suite of compare.py, both sides warm, medians of R calls after a warm-up, the
same thread count on both sides. Ours: `lipschitz.conv_norm(weight, n, stride=s,
padding_mode="circular", threads=T)` called in this process on the float32 weight as a NumPy
array (default precision double and tolerance 1e-6, as the CLI), so the time includes the call's
overhead (argument handling, the float32 → float64 conversion, JSON out, the weight's private
copy for reshaped_weight_norm, which is computed on first use). A last column times the call
with that value asked for too (`.reshaped_weight_norm`, what `lipschitz conv` always prints).
Reference:
reference.py's sigma1() in float32 (complex64), run in its own process by
run_reference_with_retry, which retries Debian's torch 1.13 crash in batched complex svdvals
(reference.py's docstring); its times are taken inside that process, warm, like ours.

Usage: PYTHONPATH=build/python /usr/bin/python3 bench/python_conv_norm.py [--threads 2] [-R 5]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare  # noqa: E402  (the suite and the machine line)
import reference  # noqa: E402

import lipschitz  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", "-R", type=int, default=5)
    ap.add_argument("--seed", type=int, default=2019)
    args = ap.parse_args()
    T = args.threads
    env = dict(os.environ, OMP_NUM_THREADS=str(T), OPENBLAS_NUM_THREADS=str(T))
    model, nproc, _ = compare.machine_line()
    print(f"machine: {model}, nproc {nproc}; threads {T} on both sides; R = {args.repeats} "
          f"(median, one warm-up); weights N(0, 0.02²) float32, seed {args.seed}\n")
    print("| layer | ref σ₁ (s) | lipschitz.conv_norm (s) | ratio | engine only (s) | "
          "ref σ₁ in [lower, upper] | with reshaped norm (s) | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(args.seed)
    ratios, ratios_reshaped = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, c_out, c_in, k, n, s in compare.SUITE:
            w = rng.normal(0.0, 0.02, size=(c_out, c_in, k, k)).astype(np.float32)
            path = os.path.join(tmp, "w.npy")
            np.save(path, w)
            compare.wait_idle(120)
            ref, _ = reference.run_reference_with_retry(path, n, s, T, args.repeats,
                                                        "float32", None, 4, env)
            ref_s1 = statistics.median(ref["sigma1_seconds"])
            lipschitz.conv_norm(w, n, stride=s, padding_mode="circular", threads=T)  # warm-up
            times, engine = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                r = lipschitz.conv_norm(w, n, stride=s, padding_mode="circular", threads=T)
                times.append(time.perf_counter() - t0)
                engine.append(r.seconds)
            ours = statistics.median(times)
            ratios.append(ref_s1 / ours)
            with_reshaped = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                lipschitz.conv_norm(w, n, stride=s, padding_mode="circular",
                                    threads=T).reshaped_weight_norm
                with_reshaped.append(time.perf_counter() - t0)
            ours_reshaped = statistics.median(with_reshaped)
            ratios_reshaped.append(ref_s1 / ours_reshaped)
            slack = 1e-5 * ref["sigma_1"]
            inside = r.lower - slack <= ref["sigma_1"] <= r.upper + slack
            print(f"| {name} | {ref_s1:.4f} | {ours:.4f} | {ratios[-1]:.1f} | "
                  f"{statistics.median(engine):.4f} | {'yes' if inside else '**NO**'} | "
                  f"{ours_reshaped:.4f} | {ratios_reshaped[-1]:.1f} |",
                  flush=True)
    def geo(r):
        return float(np.exp(np.mean(np.log(r))))
    print(f"\nmedian ratio {statistics.median(ratios):.1f}×, geometric mean {geo(ratios):.1f}× "
          f"over {len(ratios)} layers; with the reshaped norm {statistics.median(ratios_reshaped):.1f}× "
          f"and {geo(ratios_reshaped):.1f}×")


if __name__ == "__main__":
    main()
