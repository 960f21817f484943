#!/usr/bin/python3
"""Reference ("the common way") singular values of a circular 2-D convolution layer, in PyTorch.

This is what a practitioner would write from Sedghi, Gupta & Long (ICLR 2019): FFT the kernel to
the input size, form one c_out x c_in complex matrix per frequency, and call the batched
`torch.linalg.svdvals` on all of them.  It is the baseline `compare.py` times `lipschitz conv`
against, and `--selftest` checks it against a dense operator built with `torch.nn.functional.conv2d`.

Layer: weight W of shape (c_out, c_in, k, k), input n x n on the torus (circular padding),
stride s with s | n.  See ../shared/ALGORITHMS.md sections 1 and 2.

  * Stride 1: M = torch.fft.rfft2(W, s=(n, n)), one matrix M(u, v) per frequency of the half grid
    n x (n//2 + 1).  Real kernel => M(-w) = conj(M(w)): same singular values.  Columns v = 0 and
    (n even) v = n/2 are mapped onto themselves by w -> -w and count once; every other column
    stands for itself and its mirror and counts twice.
  * Stride s > 1, m = n/s: downsampling folds the s x s aliases nu + a*m of every output
    frequency nu in [0, m)^2 into one c_out x (c_in*s*s) matrix
        B(nu) = (1/s) [ M(nu + a*m) ]_{a in [0,s)^2}          (blocks side by side).
    The aliases reach beyond the rfft half grid, so this path takes the full torch.fft.fft2 and
    keeps the half grid m x (m//2 + 1) of the *folded* grid (B(-nu) is conj(B(nu)) with its
    blocks permuted: same singular values); multiplicities as above with m in place of n.
  * Kernel larger than the input (k > n): the taps wrap around the torus (t mod n) and add up.
    We fold the kernel that way before the FFT.  NOTE: the usual one-liner
    `rfft2(W, s=(n, n))` would *crop* the kernel to n x n instead, which is wrong
    (`--selftest` shows the difference on a 3x3 kernel on a 2x2 torus).

SIGSEGV: Debian's torch 1.13 crashes in some runs of a *batched complex* svdvals with more than
one thread (ALGORITHMS.md section 8).  `run_reference_with_retry` runs the timed computation in a
child process (`reference.py --weight ...`) and retries it, with the same thread count, when the
child dies on a signal; after `retries` crashes it falls back to one thread and says so.  The
self-test runs in-process with torch.set_num_threads(1), which is safe.

Usage:
  /usr/bin/python3 bench/reference.py --selftest
  /usr/bin/python3 bench/reference.py --weight W.npy --input N [--stride S] [--threads T]
        [--repeats R] [--dtype float32|float64] [--spectrum-out S.npy]
    prints one JSON object: sigma_1, times of full_spectrum and sigma1 (warm-up excluded).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


# ----------------------------------------------------------------------------- the computation

def fold_kernel(W, n):
    """Wrap the taps of W (c_out, c_in, k1, k2) onto the n x n torus (t mod n, summed).

    Returns W itself when the kernel fits (k <= n): rfft2(W, s=(n, n)) then zero-pads it."""
    k1, k2 = W.shape[-2:]
    if k1 <= n and k2 <= n:
        return W
    Wf = W.new_zeros(W.shape[:-2] + (n, n))
    for a in range(k1):
        for b in range(k2):
            Wf[..., a % n, b % n] += W[..., a, b]
    return Wf


def _multiplicities(size, device=None):
    """Multiplicity of each column v in [0, size//2] of a half grid: 1 for the self-conjugate
    columns (v = 0, and v = size/2 when size is even), 2 otherwise."""
    cols = size // 2 + 1
    mult = torch.full((cols,), 2, dtype=torch.long, device=device)
    mult[0] = 1
    if size % 2 == 0:
        mult[size // 2] = 1
    return mult


def frequency_blocks(W, n, s=1):
    """The per-frequency matrices on the half grid, batched.

    Returns (blocks, mult): blocks (F, c_out, c_in*s*s) complex, mult (F,) multiplicities."""
    c_out, c_in = W.shape[:2]
    if n % s != 0:
        raise ValueError(f"stride {s} must divide the input size {n}")
    Wf = fold_kernel(W, n)
    if s == 1:
        M = torch.fft.rfft2(Wf, s=(n, n))                 # (c_out, c_in, n, n//2+1)
        blocks = M.permute(2, 3, 0, 1).reshape(-1, c_out, c_in)
        mult = _multiplicities(n).repeat(n)                # row-major over (u, v)
        return blocks, mult
    m = n // s
    M = torch.fft.fft2(Wf, s=(n, n))                       # (c_out, c_in, n, n); u = a1*m + nu1
    M = M.reshape(c_out, c_in, s, m, s, m)                 # (o, c, a1, nu1, a2, nu2)
    M = M[..., : m // 2 + 1]                               # half grid of the folded grid
    B = M.permute(3, 5, 0, 1, 2, 4)                        # (nu1, nu2, o, c, a1, a2)
    blocks = B.reshape(-1, c_out, c_in * s * s) / s
    mult = _multiplicities(m).repeat(m)
    return blocks, mult


def full_spectrum(W, n, s=1):
    """Every singular value of the layer, with multiplicities, sorted descending (1-D tensor of
    m*m*min(c_out, c_in*s*s) values, m = n/s)."""
    blocks, mult = frequency_blocks(W, n, s)
    sv = torch.linalg.svdvals(blocks)                      # (F, r)
    full = torch.repeat_interleave(sv, mult, dim=0).reshape(-1)
    return torch.sort(full, descending=True).values


def sigma1(W, n, s=1):
    """The spectral norm, the common way: all singular values of every block, then the max."""
    blocks, _ = frequency_blocks(W, n, s)
    return torch.linalg.svdvals(blocks).max()


# ----------------------------------------------------------------------------- dense check

def dense_operator(W, n, s=1):
    """The layer as a dense (c_out*m*m, c_in*n*n) matrix, applying torch conv2d to the basis.

    Circular padding by F.pad(mode='circular') with (k-1)//2 before and the rest after (any split
    gives the same singular values; PyTorch's symmetric padding would not give an n/s output for
    even k).  For k - 1 > n, F.pad cannot wrap more than once, so the input is tiled instead."""
    c_out, c_in, k1, k2 = W.shape
    N = c_in * n * n
    x = torch.eye(N, dtype=W.dtype).reshape(N, c_in, n, n)
    if k1 - 1 <= n and k2 - 1 <= n:
        p1, p2 = (k1 - 1) // 2, (k2 - 1) // 2
        xp = F.pad(x, (p2, k2 - 1 - p2, p1, k1 - 1 - p1), mode="circular")
    else:
        reps1 = -(-(n + k1 - 1) // n)
        reps2 = -(-(n + k2 - 1) // n)
        xp = x.repeat(1, 1, reps1, reps2)[..., : n + k1 - 1, : n + k2 - 1]
    y = F.conv2d(xp, W, stride=s)                          # (N, c_out, m, m)
    assert y.shape[-2:] == (n // s, n // s), y.shape
    return y.reshape(N, -1).T


def selftest():
    torch.set_num_threads(1)  # batched complex svdvals is safe single-threaded (ALGORITHMS.md §8)
    torch.manual_seed(0)
    cases = [  # (c_out, c_in, k, n, s)
        (5, 4, 3, 12, 3),   # the case quoted in ALGORITHMS.md §2
        (3, 2, 3, 2, 1),    # k > n: taps wrap
        (4, 3, 5, 3, 1),    # k > n, odd n
        (3, 2, 5, 4, 2),    # k > n with stride
        (4, 3, 4, 8, 2),    # DCGAN-like 4x4 stride 2
        (3, 2, 4, 6, 2),    # odd folded grid m = 3
        (6, 2, 3, 6, 1),    # c_out > c_in
        (3, 3, 3, 7, 1),    # odd n
        (2, 5, 3, 6, 3),    # c_out < c_in*s*s
        (3, 2, 3, 4, 4),    # s = n: m = 1
    ]
    worst = 0.0
    ok = True
    print("reference.py --selftest: full_spectrum / sigma1 against the dense conv2d operator "
          "(in-process, torch.set_num_threads(1))")
    for c_out, c_in, k, n, s in cases:
        W = torch.randn(c_out, c_in, k, k, dtype=torch.float64)
        dense = torch.linalg.svdvals(dense_operator(W, n, s))
        m = n // s
        r = m * m * min(c_out, c_in * s * s)
        dense = dense[:r]  # the rest are exact zeros of the wider side
        for dtype, tol in ((torch.float64, 1e-10), (torch.float32, 2e-5)):
            spec = full_spectrum(W.to(dtype), n, s).double()
            s1 = float(sigma1(W.to(dtype), n, s))
            if spec.numel() != r:
                print(f"  FAIL {c_out}x{c_in} k{k} n{n} s{s} {dtype}: {spec.numel()} values, expected {r}")
                ok = False
                continue
            err = float((spec - dense).abs().max() / dense[0])
            err1 = abs(s1 - float(dense[0])) / float(dense[0])
            good = err <= tol and err1 <= tol
            ok &= good
            if dtype == torch.float64:
                worst = max(worst, err)
            print(f"  {'ok  ' if good else 'FAIL'} c_out={c_out} c_in={c_in} k={k} n={n} s={s} "
                  f"{str(dtype)[6:]:8s} values={r:4d} max|diff|/sigma1={err:.1e} sigma1 rel err={err1:.1e}")
    # The cropping pitfall: rfft2(W, s=(n, n)) with k > n truncates the kernel.
    W = torch.randn(3, 2, 3, 3, dtype=torch.float64)
    true = float(torch.linalg.svdvals(dense_operator(W, 2, 1))[0])
    cropped = float(torch.linalg.svdvals(
        torch.fft.rfft2(W, s=(2, 2)).permute(2, 3, 0, 1).reshape(-1, 3, 2)).max())
    ours = float(sigma1(W, 2, 1))
    print(f"  k > n pitfall (3x3 kernel, 2x2 torus): dense {true:.6f}, folded reference {ours:.6f}, "
          f"cropped rfft2(W, s=(n, n)) {cropped:.6f}  <- cropping is wrong")
    ok &= abs(ours - true) <= 1e-10 * true
    print(f"selftest {'PASSED' if ok else 'FAILED'} (worst float64 spectrum error {worst:.1e} of sigma1)")
    return 0 if ok else 1


# ----------------------------------------------------------------------------- timed runs

def _timed(fn, repeats):
    fn()  # warm-up, not counted
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, times


def worker(args):
    torch.set_num_threads(args.threads)
    W = torch.from_numpy(np.load(args.weight))
    W = W.to(torch.float64 if args.dtype == "float64" else torch.float32).contiguous()
    spec, t_full = _timed(lambda: full_spectrum(W, args.input, args.stride), args.repeats)
    s1, t_s1 = _timed(lambda: sigma1(W, args.input, args.stride), args.repeats)
    if args.spectrum_out:
        np.save(args.spectrum_out, spec.double().numpy())
    print(json.dumps({
        "sigma_1": float(s1), "sigma_1_from_full": float(spec[0]), "count": int(spec.numel()),
        "full_seconds": t_full, "sigma1_seconds": t_s1, "threads": torch.get_num_threads(),
        "dtype": "complex128" if args.dtype == "float64" else "complex64",
        "torch": torch.__version__,
    }))
    return 0


def run_reference_with_retry(weight, n, s, threads, repeats, dtype="float32",
                             spectrum_out=None, retries=4, env=None):
    """Run `reference.py --weight ...` in a child process; retry on a crash (signal).

    Returns (result dict, note).  After `retries` crashes with `threads` threads, one last try
    runs single-threaded; the note says what happened."""
    cmd = [sys.executable, os.path.abspath(__file__), "--weight", weight, "--input", str(n),
           "--stride", str(s), "--repeats", str(repeats), "--dtype", dtype]
    if spectrum_out:
        cmd += ["--spectrum-out", spectrum_out]
    crashes = []
    attempt_threads = [threads] * (retries + 1) + ([1] if threads > 1 else [])
    for t in attempt_threads:
        e = dict(os.environ if env is None else env)
        e["OMP_NUM_THREADS"] = str(t)
        e["OPENBLAS_NUM_THREADS"] = str(t)
        p = subprocess.run(cmd + ["--threads", str(t)], capture_output=True, text=True, env=e)
        if p.returncode == 0:
            res = json.loads(p.stdout.strip().splitlines()[-1])
            if not crashes:
                note = "ok first try"
            else:
                note = f"{len(crashes)} crash(es) ({', '.join(crashes)}), retried" + (
                    ", FELL BACK TO 1 THREAD" if t != threads else "")
            res["crashes"] = len(crashes)
            return res, note
        if p.returncode < 0:
            crashes.append(f"signal {-p.returncode}")
            continue
        raise RuntimeError(f"reference failed (rc {p.returncode}): {p.stderr[-2000:]}")
    raise RuntimeError(f"reference crashed {len(crashes)} times: {crashes}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--weight")
    ap.add_argument("--input", type=int)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--spectrum-out")
    args = ap.parse_args()
    if args.selftest:
        return selftest()
    if not args.weight or not args.input:
        ap.error("--weight and --input are required (or --selftest)")
    return worker(args)


if __name__ == "__main__":
    sys.exit(main())
