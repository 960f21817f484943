#!/usr/bin/python3
"""Training speed of `lipschitz train` against the same model in PyTorch Python, side by side.

Runs bench/train_reference.py (Debian's torch 1.13, the paper's algorithm written as gan_toy.py
writes it) and `lipschitz train` with the same data, model, objective, batch and thread count,
alternating A/B/A/B so both see the same machine state, and reports medians:

  * step time: median seconds per generator update (its n_critic critic updates included),
    warm-up steps excluded; ratio = Python / C++ (> 1: the C++ trainer is faster). The C++ runs
    here have monitoring off and write sample images only at the end, like the reference
    (which writes none; one PNG costs milliseconds, outside the timed steps).
  * monitoring overhead: a C++ run with the default monitoring (every 200 steps, per-layer
    spectral norms from the engine) reports monitor_seconds / training seconds in its
    summary.json.

Usage (run on an idle machine; `uptime` is printed for the record):
  /usr/bin/python3 bench/train_compare.py --threads 2 --steps 300 --repeats 5 \
      --binary build/bin/lipschitz
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_reference(a):
    cmd = ["/usr/bin/python3", os.path.join(HERE, "train_reference.py"), "--json",
           "--data", a.data, "--steps", str(a.steps + a.warmup), "--warmup", str(a.warmup),
           "--threads", str(a.threads), "--width", str(a.width), "--depth", str(a.depth),
           "--batch-size", str(a.batch_size), "--seed", "0"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["median_step_seconds"]


def run_cpp(a, monitor_every, steps):
    with tempfile.TemporaryDirectory() as tmp:
        run = os.path.join(tmp, "run")
        cmd = [a.binary, "train", "--data", a.data, "--steps", str(steps), "--threads",
               str(a.threads), "--width", str(a.width), "--depth", str(a.depth), "--batch-size",
               str(a.batch_size), "--seed", "0", "--monitor-every", str(monitor_every),
               "--sample-every", "0", "--checkpoint-every", str(steps), "--progress", "none",
               "--out", run]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        with open(os.path.join(run, "summary.json")) as f:
            return json.load(f)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--binary", default=os.path.join(HERE, "..", "build", "bin", "lipschitz"))
    p.add_argument("--data", default="8gaussians")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=300, help="timed generator updates per run")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--overhead-steps", type=int, default=1000,
                   help="steps of the run that measures the monitoring overhead (0: skip)")
    p.add_argument("--out", help="also write the results as JSON here")
    a = p.parse_args()

    print(f"# {os.uname().nodename}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; "
          f"threads {a.threads}; {a.data}, MLP {a.depth}x{a.width}, batch {a.batch_size}",
          flush=True)
    py, cpp = [], []
    for r in range(a.repeats):
        py.append(run_reference(a))
        # The C++ median covers every step; the warm-up steps are too few to move it.
        cpp.append(run_cpp(a, 0, a.steps + a.warmup)["median_step_seconds"])
        print(f"repeat {r + 1}: python {py[-1] * 1e3:.1f} ms/step, C++ {cpp[-1] * 1e3:.1f} ms/step",
              flush=True)
    result = {
        "threads": a.threads, "data": a.data, "width": a.width, "depth": a.depth,
        "batch_size": a.batch_size, "repeats": a.repeats,
        "python_median_step_seconds": statistics.median(py),
        "cpp_median_step_seconds": statistics.median(cpp),
    }
    result["ratio"] = result["python_median_step_seconds"] / result["cpp_median_step_seconds"]
    print(f"median step: python {result['python_median_step_seconds'] * 1e3:.1f} ms, "
          f"C++ {result['cpp_median_step_seconds'] * 1e3:.1f} ms, ratio {result['ratio']:.2f}x")
    if a.overhead_steps > 0:
        s = run_cpp(a, 200, a.overhead_steps)
        result["monitor_overhead"] = s["monitor_overhead"]
        result["monitor_seconds"] = s["monitor_seconds"]
        result["monitored_train_seconds"] = s["session_train_seconds"]
        print(f"monitoring every 200 steps over {a.overhead_steps} steps: "
              f"{s['monitor_seconds']:.2f} s of {s['session_train_seconds']:.1f} s training = "
              f"{100 * s['monitor_overhead']:.2f} %")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
