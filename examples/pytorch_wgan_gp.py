#!/usr/bin/python3
"""WGAN-GP on 8 Gaussians in plain PyTorch, monitored by lipschitz.Monitor.

The toy setting of Gulrajani et al. (2017): generator and critic are ReLU MLPs with three hidden
layers, Adam(1e-4, betas (0.5, 0.9)), 5 critic updates per generator update, penalty weight
0.1. Every --every steps the monitor writes a record to OUT/metrics.jsonl; afterwards

    build/bin/lipschitz view OUT

renders the run. From the build tree:

    PYTHONPATH=build/python /usr/bin/python3 examples/pytorch_wgan_gp.py --out runs/py-8g
"""
import argparse
import math

import torch

import lipschitz


def eight_gaussians(n, generator):
    centers = torch.tensor([(math.cos(a), math.sin(a)) for a in
                            [k * math.pi / 4 for k in range(8)]]) * 2
    pick = torch.randint(0, 8, (n,), generator=generator)
    points = centers[pick] + 0.02 * torch.randn(n, 2, generator=generator)
    return points / 1.414


def mlp(width, out):
    return torch.nn.Sequential(
        torch.nn.Linear(2, width), torch.nn.ReLU(), torch.nn.Linear(width, width), torch.nn.ReLU(),
        torch.nn.Linear(width, width), torch.nn.ReLU(), torch.nn.Linear(width, out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/py-8g")
    ap.add_argument("--steps", type=int, default=2000, help="generator updates")
    ap.add_argument("--every", type=int, default=100, help="monitoring interval")
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--penalty", type=float, default=0.1, help="gradient-penalty weight λ")
    ap.add_argument("--critic-iters", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data = torch.Generator().manual_seed(args.seed)
    G, D = mlp(args.width, 2), mlp(args.width, 1)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.5, 0.9))
    monitor = lipschitz.Monitor(D, every=args.every, out=args.out, input_shape=(2,),
                                objective="wgan-gp", penalty_weight=args.penalty,
                                steps=args.steps, data="8gaussians", threads=args.threads,
                                config={"width": args.width, "depth": 3,
                                        "monitor_batch": args.batch})
    with monitor:
        for step in range(args.steps + 1):
            real = eight_gaussians(args.batch, data)
            fake = G(torch.randn(args.batch, 2)).detach()
            monitor.step(step, real=real, fake=fake)
            if step == args.steps:
                break
            for _ in range(args.critic_iters):
                real = eight_gaussians(args.batch, data)
                fake = G(torch.randn(args.batch, 2)).detach()
                eps = torch.rand(args.batch, 1)
                between = (eps * real + (1 - eps) * fake).requires_grad_(True)
                (grad,) = torch.autograd.grad(D(between).sum(), between, create_graph=True)
                penalty = args.penalty * ((grad.norm(dim=1) - 1) ** 2).mean()
                loss_d = D(fake).mean() - D(real).mean() + penalty
                opt_d.zero_grad()
                loss_d.backward()
                opt_d.step()
            loss_g = -D(G(torch.randn(args.batch, 2))).mean()
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
    print(f"{args.out}: {args.steps} steps; render it with: lipschitz view {args.out}")


if __name__ == "__main__":
    main()
