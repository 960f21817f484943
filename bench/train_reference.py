#!/usr/bin/python3
"""PyTorch reference for `lipschitz train`: GAN / WGAN / WGAN-GP on the WGAN-GP paper's toy data.

This is the baseline the C++ (LibTorch) trainer is timed against and checked for sample quality
against: the same models, data, objectives, optimisers and order of operations, written the way
the paper's released `gan_toy.py` writes them (Gulrajani et al. 2017; ../shared/ALGORITHMS.md
section 7).  Run it with Debian's torch 1.13: `/usr/bin/python3`, not the first python3 on PATH.

Data (sampled fresh for every batch with torch's global CPU generator, in this order):
  * 8gaussians:  k = randint(8, (B,)), n = randn(B, 2);  x = (2*c_k + 0.02*n) / 1.414,
                 c_k in (1,0),(-1,0),(0,1),(0,-1),(±1/√2, ±1/√2) (gan_toy.py's order).
  * 25gaussians: k = randint(25, (B,)), n = randn(B, 2); x = (c_k + 0.05*n) / 2.828,
                 c_k on the grid {-4,-2,0,2,4}^2 (first coordinate outer).
  * swissroll:   u = rand(B), n = randn(B, 2); t = 1.5π(1 + 2u),
                 x = ((t cos t, t sin t) + 0.25*n) / 7.5   (sklearn's make_swiss_roll, x/z plane).
Models: generator latent -> [Linear(., W), ReLU] x depth -> Linear(W, 2); critic 2 ->
[Linear(., W), ReLU] x depth -> Linear(W, 1); PyTorch's default Linear init (the same as
LibTorch's), created generator first, then critic, right after torch.manual_seed(seed).
One training step = one generator update:
  n_critic times: real = data(B); z = randn(B, latent); fake = G(z) under no_grad;
      [wgan-gp: eps = rand(B, 1); x̂ = eps*real + (1-eps)*fake]; critic loss
        wgan-gp: D(fake).mean() - D(real).mean() + λ mean((‖∇D(x̂)‖₂ - 1)²)
                 (--one-sided: clamp(‖∇‖ - 1, min=0)²), grad by autograd.grad(create_graph=True)
        wgan:    D(fake).mean() - D(real).mean(), then clamp every critic parameter to [-c, c]
        gan:     BCEWithLogits(D(real), 1) + BCEWithLogits(D(fake), 0)
      D.zero_grad(); backward; optimD.step()
  then: critic parameters requires_grad False (as gan_toy.py; saves the critic's weight grads);
      z = randn(B, latent); loss = -D(G(z)).mean()  (gan: BCEWithLogits(D(G(z)), 1));
      G.zero_grad(); backward; optimG.step(); critic parameters requires_grad True.
  D(real), D(fake) and D(x̂) are three separate forward passes, as in gan_toy.py.
Optimisers: Adam(lr, betas=(beta1, beta2)) for wgan-gp and gan (default lr 1e-4, betas
(0.5, 0.9) as the released toy code); RMSprop(lr) for wgan (default lr 5e-5, c = 0.01).
Defaults n_critic = 5 (1 for gan), λ = 10, W = 512, depth = 3, latent 2, batch 256.

Timing: all --steps generator updates are run; the first --warmup of them are not counted.
Each counted step (its critic steps included) is timed with time.perf_counter(); the report
gives median / mean / p10 / p90 seconds per step.  Threads: torch.set_num_threads(T), and
OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = T are put in the environment before torch is imported
(Debian's torch calls OpenBLAS, which otherwise starts one thread per core).  With T > 1 it
also sets OMP_WAIT_POLICY=PASSIVE unless the environment already says otherwise: torch's OpenMP
threads otherwise spin while OpenBLAS's own threads do the matrix products, and on this 2-core
machine 2 threads ran 2.5x SLOWER than 1 (0.54 vs 0.22 s/step at W = 512, idle machine);
passive, 2 threads take 0.15 s/step.  libgomp reads the variable when it is loaded, so a C++
program must get it from its environment (or re-exec itself), not setenv() it in main().

Quality (--eval-every K > 0, mixtures only): after every K-th step (and after the last) the
generator makes --eval-samples samples from its own torch.Generator seeded with seed + 1 (the
training stream is not disturbed).  A sample is high quality if its Euclidean distance to the
nearest mode is <= 3σ, σ the per-coordinate std after scaling (0.02/1.414 for 8 Gaussians,
0.05/2.828 for 25); a mode is covered if it is the nearest mode of at least one high-quality
sample.  "seconds" is the cumulative training time up to that step (warm-up included,
evaluation excluded).

Usage:
  /usr/bin/python3 bench/train_reference.py --steps 200 --warmup 20 --threads 1 --json
  /usr/bin/python3 bench/train_reference.py --steps 3000 --eval-every 100 --threads 1 --json
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

DATASETS = ("8gaussians", "25gaussians", "swissroll")
OBJECTIVES = ("wgan-gp", "wgan", "gan")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", choices=DATASETS, default="8gaussians")
    p.add_argument("--objective", choices=OBJECTIVES, default="wgan-gp")
    p.add_argument("--steps", type=int, default=1000, help="generator updates, warm-up included")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--critic-iters", type=int, default=None,
                   help="critic steps per generator step (default 5; 1 for gan)")
    p.add_argument("--lambda", dest="lam", type=float, default=10.0, help="gradient penalty weight")
    p.add_argument("--one-sided", action="store_true", help="penalise only max(0, |grad| - 1)^2")
    p.add_argument("--clip", type=float, default=0.01, help="wgan weight clipping c")
    p.add_argument("--lr", type=float, default=None, help="default 1e-4 (Adam); 5e-5 for wgan")
    p.add_argument("--beta1", type=float, default=0.5)
    p.add_argument("--beta2", type=float, default=0.9)
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--latent-dim", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warmup", type=int, default=10, help="initial steps left out of the timing")
    p.add_argument("--eval-every", type=int, default=0, help="quality every K steps (0: never)")
    p.add_argument("--eval-samples", type=int, default=2500)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args(argv)
    if a.critic_iters is None:
        a.critic_iters = 1 if a.objective == "gan" else 5
    if a.lr is None:
        a.lr = 5e-5 if a.objective == "wgan" else 1e-4
    if a.steps < 1 or a.warmup < 0 or a.warmup >= a.steps:
        p.error("need steps >= 1 and 0 <= warmup < steps")
    return a


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.threads)
    if ARGS.threads > 1:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402  (after the thread environment is set)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


# ----------------------------------------------------------------------------- toy data

def mixture(name):
    """(centres after scaling, per-coordinate σ after scaling) of a Gaussian mixture."""
    if name == "8gaussians":
        s = 1.0 / math.sqrt(2.0)
        c = [(1, 0), (-1, 0), (0, 1), (0, -1), (s, s), (s, -s), (-s, s), (-s, -s)]
        return torch.tensor(c, dtype=torch.float32) * 2.0 / 1.414, 0.02 / 1.414
    if name == "25gaussians":
        c = [(x, y) for x in range(-4, 5, 2) for y in range(-4, 5, 2)]
        return torch.tensor(c, dtype=torch.float32) / 2.828, 0.05 / 2.828
    return None, None


class ToyData:
    def __init__(self, name):
        self.name = name
        if name == "8gaussians":
            s = 1.0 / math.sqrt(2.0)
            self.raw = torch.tensor([(1, 0), (-1, 0), (0, 1), (0, -1),
                                     (s, s), (s, -s), (-s, s), (-s, -s)], dtype=torch.float32) * 2.0
            self.std, self.scale = 0.02, 1.414
        elif name == "25gaussians":
            self.raw = torch.tensor([(x, y) for x in range(-4, 5, 2) for y in range(-4, 5, 2)],
                                    dtype=torch.float32)
            self.std, self.scale = 0.05, 2.828
        elif name != "swissroll":
            raise ValueError(name)

    def sample(self, B):
        if self.name == "swissroll":
            u = torch.rand(B)
            n = torch.randn(B, 2)
            t = 1.5 * math.pi * (1.0 + 2.0 * u)
            return (torch.stack([t * torch.cos(t), t * torch.sin(t)], 1) + 0.25 * n) / 7.5
        k = torch.randint(self.raw.shape[0], (B,))
        n = torch.randn(B, 2)
        return (self.raw[k] + self.std * n) / self.scale


# ----------------------------------------------------------------------------- models

def mlp(d_in, width, depth, d_out):
    layers, d = [], d_in
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    layers.append(nn.Linear(d, d_out))
    return nn.Sequential(*layers)


# ----------------------------------------------------------------------------- quality

def quality(G, latent_dim, name, n, seed):
    centres, sigma = mixture(name)
    if centres is None:
        return None
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        x = G(torch.randn(n, latent_dim, generator=g))
    d = torch.cdist(x, centres)                       # (n, modes)
    dmin, nearest = d.min(1)
    hq = dmin <= 3.0 * sigma
    covered = torch.unique(nearest[hq]).numel()
    return {"modes_covered": int(covered), "modes": int(centres.shape[0]),
            "high_quality_fraction": float(hq.float().mean())}


# ----------------------------------------------------------------------------- training

def train(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    G = mlp(a.latent_dim, a.width, a.depth, 2)
    D = mlp(2, a.width, a.depth, 1)
    if a.objective == "wgan":
        optG = torch.optim.RMSprop(G.parameters(), lr=a.lr)
        optD = torch.optim.RMSprop(D.parameters(), lr=a.lr)
    else:
        optG = torch.optim.Adam(G.parameters(), lr=a.lr, betas=(a.beta1, a.beta2))
        optD = torch.optim.Adam(D.parameters(), lr=a.lr, betas=(a.beta1, a.beta2))
    data = ToyData(a.data)
    B = a.batch_size
    times, quality_log = [], []
    trained = 0.0
    last = {}

    for step in range(1, a.steps + 1):
        t0 = time.perf_counter()
        # ---- critic
        for _ in range(a.critic_iters):
            real = data.sample(B)
            z = torch.randn(B, a.latent_dim)
            with torch.no_grad():
                fake = G(z)
            if a.objective == "gan":
                d_real, d_fake = D(real), D(fake)
                lossD = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                         + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
            else:
                lossD = D(fake).mean() - D(real).mean()
                if a.objective == "wgan-gp":
                    eps = torch.rand(B, 1)
                    xh = (eps * real + (1.0 - eps) * fake).requires_grad_(True)
                    dh = D(xh)
                    grad, = torch.autograd.grad(dh, xh, grad_outputs=torch.ones_like(dh),
                                                create_graph=True)
                    gap = grad.norm(2, dim=1) - 1.0
                    if a.one_sided:
                        gap = gap.clamp(min=0.0)
                    gp = a.lam * (gap ** 2).mean()
                    lossD = lossD + gp
            D.zero_grad()
            lossD.backward()
            optD.step()
            if a.objective == "wgan":
                with torch.no_grad():
                    for p in D.parameters():
                        p.clamp_(-a.clip, a.clip)
        # ---- generator
        for p in D.parameters():
            p.requires_grad_(False)
        z = torch.randn(B, a.latent_dim)
        d_gen = D(G(z))
        if a.objective == "gan":
            lossG = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
        else:
            lossG = -d_gen.mean()
        G.zero_grad()
        lossG.backward()
        optG.step()
        for p in D.parameters():
            p.requires_grad_(True)
        dt = time.perf_counter() - t0
        trained += dt
        if step > a.warmup:
            times.append(dt)

        if a.eval_every > 0 and (step % a.eval_every == 0 or step == a.steps):
            q = quality(G, a.latent_dim, a.data, a.eval_samples, a.seed)
            if q is not None:
                q = {"step": step, "seconds": round(trained, 3), **q,
                     "critic_loss": lossD.item(), "generator_loss": lossG.item()}
                quality_log.append(q)
                if not a.json:
                    print(f"step {step:6d}  {trained:8.1f}s  modes {q['modes_covered']}/"
                          f"{q['modes']}  hq {q['high_quality_fraction']:.3f}  "
                          f"lossD {q['critic_loss']:+.4f}", flush=True)
        last = {"critic_loss": lossD.item(), "generator_loss": lossG.item()}

    ts = sorted(times)
    pct = lambda f: ts[min(len(ts) - 1, int(f * len(ts)))]
    out = {
        "steps": a.steps, "timed_steps": len(times), "warmup": a.warmup,
        "median_step_seconds": statistics.median(ts), "mean_step_seconds": statistics.fmean(ts),
        "p10_step_seconds": pct(0.1), "p90_step_seconds": pct(0.9),
        "total_train_seconds": trained,
        "threads": torch.get_num_threads(), "torch_version": torch.__version__,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        "data": a.data, "objective": a.objective, "batch_size": B,
        "critic_iters": a.critic_iters, "lambda": a.lam, "one_sided": a.one_sided,
        "clip": a.clip, "lr": a.lr, "beta1": a.beta1, "beta2": a.beta2, "width": a.width,
        "depth": a.depth, "latent_dim": a.latent_dim, "seed": a.seed,
        "eval_every": a.eval_every, "eval_samples": a.eval_samples,
        **{"final_" + k: v for k, v in last.items()},
        "quality": quality_log,
    }
    return out


def main():
    out = train(ARGS)
    if ARGS.json:
        print(json.dumps(out))
    else:
        print(f"{out['objective']} on {out['data']}, W={out['width']} depth={out['depth']}, "
              f"{out['threads']} thread(s), torch {out['torch_version']}: median "
              f"{out['median_step_seconds']:.4f} s/step (mean {out['mean_step_seconds']:.4f}, "
              f"p10 {out['p10_step_seconds']:.4f}, p90 {out['p90_step_seconds']:.4f}) over "
              f"{out['timed_steps']} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
