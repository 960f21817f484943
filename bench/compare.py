#!/usr/bin/python3
"""Side-by-side benchmark: `lipschitz conv` against the PyTorch reference (bench/reference.py).

Suite: real layer shapes, circular padding at the layer's input size, weights N(0, 0.02^2)
(seeded), saved as float32 .npy in a temporary directory.  For each layer:

  (a) full spectrum: reference `full_spectrum` (rfft2/fft2 + batched torch.linalg.svdvals +
      multiplicities + sort) against `lipschitz conv --all --json`; accuracy = max |difference|
      of the two sorted spectra, relative to sigma_1.
  (b) sigma_1: reference `sigma1` (all svdvals, then max) against `lipschitz conv --json`
      (default tolerance 1e-6); checks the reference sigma_1 lies in [lower_bound, upper_bound]
      up to the reference's own rounding (complex64 by default: slack 1e-5 * sigma_1;
      --reference-dtype float64: slack 1e-10 * sigma_1).

Times are medians of R repeats after one warm-up run (not counted) on both sides.  The reference
is time.perf_counter() around the computation with the weight already a tensor, all repeats in
one process.  Ours is timed two ways:

  * warm: the engine (analyze_conv) called R times in one process after a warm-up call, exactly
    as the reference is timed (`bm_conv_spectrum --weight=...`, Google Benchmark, one call per
    repetition);
  * fresh: the JSON "seconds" of `lipschitz conv`, one new process per repeat (engine wall time:
    excludes process start and reading the .npy, includes the first call's page faults and
    thread start-up), what a user of the command sees.

The headline ratios are the warm ones (like for like); the fresh ones are in their own columns,
and the CLI's whole wall time (process start, file read, JSON out) in another.  Both sides get the same thread count: torch.set_num_threads(T) and
`--threads T`, and OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = T in both processes' environments.

The reference runs in a child process, retried on a crash (torch 1.13's batched complex svdvals
SIGSEGVs in some multi-threaded runs; ALGORITHMS.md section 8); the "ref notes" column says
whether that happened and whether it had to fall back to one thread.

Usage: /usr/bin/python3 bench/compare.py [--threads 2] [--repeats 3]
           [--reference-dtype float32|float64] [--out table.md] [--only SUBSTRING]
"""
import argparse
import datetime
import hashlib
import shutil
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402  (imports torch)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BINARY = os.path.join(HERE, "..", "build", "bin", "lipschitz")
DEFAULT_BM = os.path.join(HERE, "..", "build", "bin", "bm_conv_spectrum")

# (name, c_out, c_in, k, n, stride)
SUITE = [
    ("DCGAN-64 D1 3→64 4×4/2 @64", 64, 3, 4, 64, 2),
    ("DCGAN-64 D2 64→128 4×4/2 @32", 128, 64, 4, 32, 2),
    ("DCGAN-64 D3 128→256 4×4/2 @16", 256, 128, 4, 16, 2),
    ("DCGAN-64 D4 256→512 4×4/2 @8", 512, 256, 4, 8, 2),
    ("ResNet-18 64→64 3×3 @56", 64, 64, 3, 56, 1),
    ("ResNet-18 128→128 3×3 @28", 128, 128, 3, 28, 1),
    ("ResNet-18 256→256 3×3 @14", 256, 256, 3, 14, 1),
    ("ResNet-18 512→512 3×3 @7", 512, 512, 3, 7, 1),
    ("512→512 3×3 @4", 512, 512, 3, 4, 1),
    ("64→64 5×5 @12", 64, 64, 5, 12, 1),
]


def machine_line():
    model = "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()
    return model, nproc, load


def cpu_busy(interval=0.5):
    """Fraction of all CPUs busy over `interval` seconds (from /proc/stat)."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v), idle
    t0, i0 = snap()
    time.sleep(interval)
    t1, i1 = snap()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def wait_idle(max_wait, threshold=0.15):
    """Wait (up to max_wait s) until other processes leave the CPUs idle; returns (waited, busy)."""
    t0 = time.perf_counter()
    busy = cpu_busy()
    while busy > threshold and time.perf_counter() - t0 < max_wait:
        time.sleep(2.0)
        busy = cpu_busy()
    return time.perf_counter() - t0, busy


def run_ours(binary, weight, n, s, threads, all_values, env):
    cmd = [binary, "conv", "--weight", weight, "--input", str(n), "--stride", str(s),
           "--padding-mode", "circular", "--json", "--threads", str(threads)]
    if all_values:
        cmd.append("--all")
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (rc {p.returncode}): {p.stderr.strip()[-1000:]}")
    return json.loads(p.stdout), wall


def ours_timed(binary, weight, n, s, threads, all_values, repeats, env):
    run_ours(binary, weight, n, s, threads, all_values, env)  # warm-up (page cache), not counted
    secs, walls, out = [], [], None
    for _ in range(repeats):
        out, wall = run_ours(binary, weight, n, s, threads, all_values, env)
        secs.append(out["seconds"])
        walls.append(wall)
    return out, statistics.median(secs), statistics.median(walls)


def engine_warm(bm, weight, n, s, threads, repeats, env):
    """Medians (s) of the full spectrum, the certified sigma_1 and the gram floor (every block's
    Gram matrix alone), each run `repeats` times in one process after a warm-up call
    (bm_conv_spectrum's --weight mode)."""
    cmd = [bm, f"--weight={weight}", f"--input={n}", f"--stride={s}", f"--threads={threads}",
           f"--benchmark_repetitions={repeats}", "--benchmark_format=json"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (rc {p.returncode}): {p.stderr.strip()[-1000:]}")
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    times = {"full spectrum": [], "certified sigma_1": [], "gram floor": []}
    for b in json.loads(p.stdout)["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        for key in times:
            if b["name"].startswith(key + "/"):
                times[key].append(b["real_time"] * scale[b["time_unit"]])
    if any(len(t) != repeats for t in times.values()):
        raise RuntimeError(f"{' '.join(cmd)}: expected {repeats} repetitions of each, got "
                           f"{ {k: len(t) for k, t in times.items()} }")
    return tuple(statistics.median(times[k]) for k in ("full spectrum", "certified sigma_1", "gram floor"))


def fmt_t(t):
    return f"{t:.3f}" if t >= 0.01 else f"{t:.4f}"


def main():
    ap = argparse.ArgumentParser(description="lipschitz conv vs the PyTorch reference")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", "-R", type=int, default=3)
    ap.add_argument("--reference-dtype", choices=["float32", "float64"], default="float32",
                    help="float32: complex64 FFT/SVD (what people run); float64: complex128")
    ap.add_argument("--binary", default=DEFAULT_BINARY)
    ap.add_argument("--bm-binary", default=DEFAULT_BM, help="bm_conv_spectrum, for the warm timings")
    ap.add_argument("--out", help="also write the Markdown report to this file")
    ap.add_argument("--seed", type=int, default=2019)
    ap.add_argument("--retries", type=int, default=4, help="reference retries after a crash")
    ap.add_argument("--only", help="run only layers whose name contains this substring")
    ap.add_argument("--wait-idle", type=float, default=300,
                    help="before each layer wait up to this many seconds for the CPUs to be idle "
                         "(other work, e.g. a build, distorts timings); 0: don't wait")
    ap.add_argument("--keep", help="keep weights and spectra in this directory")
    args = ap.parse_args()

    binary = os.path.abspath(args.binary)
    tmp = args.keep or tempfile.mkdtemp(prefix="lipschitz-bench-")
    os.makedirs(tmp, exist_ok=True)
    # Run a private copy: the build directory's binary may be rebuilt while this runs.
    with open(binary, "rb") as f:
        bin_sha = hashlib.sha256(f.read()).hexdigest()[:12]
    bin_mtime = datetime.datetime.fromtimestamp(os.path.getmtime(binary)).isoformat(timespec="seconds")
    run_binary = os.path.join(tmp, "lipschitz")
    shutil.copy2(binary, run_binary)
    run_bm = os.path.join(tmp, "bm_conv_spectrum")
    shutil.copy2(os.path.abspath(args.bm_binary), run_bm)
    T = args.threads
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(T)
    env["OPENBLAS_NUM_THREADS"] = str(T)
    slack = 1e-5 if args.reference_dtype == "float32" else 1e-10
    spec_tol = 1e-5 if args.reference_dtype == "float32" else 1e-8

    suite = [l for l in SUITE if not args.only or args.only in l[0]]
    model, nproc, load = machine_line()
    ref_dtype = "complex64" if args.reference_dtype == "float32" else "complex128"
    try:
        commit = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    head = [
        f"# lipschitz conv vs PyTorch reference (circular padding, exact spectra)",
        "",
        f"- machine: {model}, nproc {nproc}, load average at start "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {platform.platform()}",
        f"- date {datetime.datetime.now().isoformat(timespec='seconds')}; repo commit {commit} "
        f"(working tree may differ); binary {os.path.relpath(binary)} "
        f"(sha256 {bin_sha}…, built {bin_mtime}; a private copy is run)",
        f"- threads {T} on both sides (torch.set_num_threads / --threads; OMP_NUM_THREADS = "
        f"OPENBLAS_NUM_THREADS = {T}); repeats R = {args.repeats} (median), one warm-up each, "
        f"weights N(0, 0.02²) seed {args.seed}, float32 .npy",
        f"- reference: torch {reference.torch.__version__}, {ref_dtype}, rfft2 (stride 1) / fft2 + "
        f"alias folding (stride 2), batched torch.linalg.svdvals; run in a child process, "
        f"retried on SIGSEGV (up to {args.retries}×, then 1 thread) — see 'ref notes'",
        "- ours: default precision (double) and tolerance (1e-6); 'warm' = the engine called R times "
        "in one process after a warm-up call, as the reference is (`bm_conv_spectrum --weight=…`); "
        "'fresh' = JSON \"seconds\" of `lipschitz conv --padding-mode circular --json [--all]`, a new "
        "process per repeat (engine only, first call in the process); "
        "'CLI wall' = the whole process as seen from Python (start + .npy read + engine + JSON out + parse)",
        "- 'Gram floor' = the Gram matrix of every frequency block alone (`bm_conv_spectrum`, warm), "
        "the least a certificate that factors each block's Gram matrix spends; 'ref σ₁ / floor' bounds "
        "the σ₁ ratio such a certificate can reach",
        "- ratio = reference time / our time (> 1: ours faster). "
        f"Accuracy: max abs Δ of sorted spectra / σ₁ (flag > {spec_tol:g}); σ₁ check: reference σ₁ in "
        f"[lower, upper] ± {slack:g}·σ₁",
        "",
    ]
    print("\n".join(head), flush=True)

    cols = ["layer", "ref full (s)", "ours full warm (s)", "ratio full", "ours full fresh (s)",
            "ratio fresh", "ref σ₁ (s)", "ours σ₁ warm (s)", "ratio σ₁", "ours σ₁ fresh (s)",
            "ratio fresh", "Gram floor (s)", "ref σ₁ / floor", "CLI wall full / σ₁ (s)", "#values", "max abs Δspec / σ₁", "ref σ₁",
            "ours σ₁ − ref (rel)", "ref σ₁ in [lo, hi]", "ours method", "ref notes"]
    rows, ratios_full, ratios_s1, problems = [], [], [], []
    fresh_full, fresh_s1, floors = [], [], []
    rng = np.random.default_rng(args.seed)
    for name, c_out, c_in, k, n, s in suite:
        W = rng.normal(0.0, 0.02, size=(c_out, c_in, k, k)).astype(np.float32)
        tag = f"{c_out}x{c_in}x{k}x{k}_n{n}_s{s}"
        wpath = os.path.join(tmp, f"w_{tag}.npy")
        spath = os.path.join(tmp, f"ref_spectrum_{tag}.npy")
        np.save(wpath, W)
        print(f"... {name}", file=sys.stderr, flush=True)
        idle_note = ""
        if args.wait_idle > 0:
            waited, busy = wait_idle(args.wait_idle)
            if busy > 0.15:
                idle_note = f"; CPUs {busy:.0%} busy with other work at start (timing suspect)"
            elif waited > 1:
                idle_note = f"; waited {waited:.0f} s for idle CPUs"
        try:
            ref, note = reference.run_reference_with_retry(
                wpath, n, s, T, args.repeats, args.reference_dtype, spath, args.retries, env)
            ref_spec = np.load(spath)
            if args.wait_idle > 0:
                _, busy2 = wait_idle(args.wait_idle)
                if busy2 > 0.15:
                    idle_note += f"; CPUs {busy2:.0%} busy before ours (timing suspect)"
            full_out, ours_full, wall_full = ours_timed(run_binary, wpath, n, s, T, True, args.repeats, env)
            s1_out, ours_s1, wall_s1 = ours_timed(run_binary, wpath, n, s, T, False, args.repeats, env)
            warm_full, warm_s1, floor = engine_warm(run_bm, wpath, n, s, T, args.repeats, env)
        except Exception as e:  # keep going: report the failure in the table
            problems.append(f"{name}: {e}")
            rows.append([name] + ["error"] * (len(cols) - 1))
            continue
        ref_full = statistics.median(ref["full_seconds"])
        ref_s1 = statistics.median(ref["sigma1_seconds"])
        sigma_ref = ref["sigma_1"]
        ours_spec = np.sort(np.asarray(full_out.get("singular_values") or [], dtype=np.float64))[::-1]
        if ours_spec.size != ref_spec.size:
            dspec = float("nan")
            problems.append(f"{name}: spectrum sizes differ: ours {ours_spec.size}, reference {ref_spec.size}")
        else:
            dspec = float(np.max(np.abs(ours_spec - ref_spec)) / sigma_ref)
            if not dspec <= spec_tol:
                problems.append(f"{name}: full spectrum differs: max|Δ|/σ₁ = {dspec:.3e} > {spec_tol:g}")
        lo, hi = s1_out["lower_bound"], s1_out["upper_bound"]
        inside = lo - slack * sigma_ref <= sigma_ref <= hi + slack * sigma_ref
        strictly = lo <= sigma_ref <= hi
        rel = (s1_out["spectral_norm"] - sigma_ref) / sigma_ref
        if not inside:
            problems.append(f"{name}: reference σ₁ = {sigma_ref:.9g} outside ours "
                            f"[{lo:.9g}, {hi:.9g}] (± {slack:g}·σ₁); ours σ₁ = {s1_out['spectral_norm']:.9g}")
        full_rel = (full_out["spectral_norm"] - sigma_ref) / sigma_ref
        if not abs(full_rel) <= max(slack, 1e-6):
            problems.append(f"{name}: --all run spectral_norm {full_out['spectral_norm']:.9g} vs reference "
                            f"{sigma_ref:.9g} (rel {full_rel:.2e})")
        rf, rs = ref_full / warm_full, ref_s1 / warm_s1
        ratios_full.append(rf)
        ratios_s1.append(rs)
        fresh_full.append(ref_full / ours_full)
        fresh_s1.append(ref_s1 / ours_s1)
        floors.append(ref_s1 / floor)
        inside_txt = ("yes" if strictly else "yes (within slack)") if inside else "**NO**"
        notes = note + ("" if ref["threads"] == T else f"; ran with {ref['threads']} thread(s)") + idle_note
        rows.append([
            name, fmt_t(ref_full), fmt_t(warm_full), f"{rf:.2f}", fmt_t(ours_full),
            f"{fresh_full[-1]:.2f}", fmt_t(ref_s1), fmt_t(warm_s1), f"{rs:.2f}", fmt_t(ours_s1),
            f"{fresh_s1[-1]:.2f}", fmt_t(floor), f"{ref_s1 / floor:.1f}", f"{wall_full:.2f} / {wall_s1:.2f}", str(ref_spec.size), f"{dspec:.1e}",
            f"{sigma_ref:.7g}", f"{rel:+.1e}", inside_txt,
            f"{s1_out['method']}" + (" (exact)" if s1_out.get("exact") else ""), notes])
        print("| " + " | ".join(rows[-1]) + " |", file=sys.stderr, flush=True)

    table = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    table += ["| " + " | ".join(r) + " |" for r in rows]
    load = os.getloadavg()
    tail = ["", f"Load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}."]
    if ratios_full:
        tail.append(f"Median ratio (reference / ours, warm): full spectrum {statistics.median(ratios_full):.2f}×, "
                    f"σ₁ {statistics.median(ratios_s1):.2f}× over {len(ratios_full)} layers.")
        tail.append(f"Median ratio (reference / ours, fresh process): full spectrum "
                    f"{statistics.median(fresh_full):.2f}×, σ₁ {statistics.median(fresh_s1):.2f}×.")
        tail.append(f"Median of reference σ₁ / Gram floor (the ratio a σ₁ certificate that forms every "
                    f"block's Gram matrix and nothing else would reach): {statistics.median(floors):.1f}×.")
    tail.append("")
    if problems:
        tail.append("**Problems:**")
        tail += [f"- {p}" for p in problems]
    else:
        tail.append("No accuracy problems: every spectrum agrees within tolerance and every reference "
                    "σ₁ lies in our certified interval.")
    if not args.keep:
        tail.append("")
        tail.append(f"(weights and reference spectra were in {tmp})")
    report = "\n".join(head + table + tail) + "\n"
    print("\n".join(table + tail))
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
