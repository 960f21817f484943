#!/usr/bin/python3
"""Whole-network Lipschitz bounds against the product of layer norms, in one run on one machine.

For each critic it runs `lipschitz report --json --bound best` (2 threads unless --threads) and
prints every method's certified upper bound and time, the answer, the best lower bound, and two
ratios: product / answer (how much tighter) and answer / lower bound (how far from the truth
at most). The critics:

  8g          the default run (`lipschitz train`, WGAN-GP on 8 Gaussians, MLP 3×128), globally
              and over the data's domain (--domain data);
  mlp12       a 12-layer ReLU MLP critic on the Swiss roll (the WGAN-GP paper's Figure 1b
              setting), WGAN-GP;
  dcgan28-gp  DCGAN-28 on Fashion-MNIST, WGAN-GP;     dcgan28-clip  the same, WGAN (clipping);
  resnet      a residual conv critic (TorchScript, random weights);
  dcgan64     the DCGAN-64 critic of bench/report_models.py (random weights): the cost target.

Usage: network_bounds.py [--bin build/bin/lipschitz] [--work DIR] [--steps-scale S]
                         [--only NAME,…] [--threads N] [--out FILE.md]
Training runs are kept in --work and reused when their checkpoint is there. --steps-scale < 1
shortens the image and MLP-12 runs (the 8g run is always the README's default).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYTHON = "/usr/bin/python3"


def sh(args, **kw):
    start = time.monotonic()
    p = subprocess.run([str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       **kw)
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(map(str, args)), p.stderr.decode()[-2000:]))
    return p.stdout.decode(), time.monotonic() - start


def train(bin_, run, args):
    if not os.path.exists(os.path.join(run, "checkpoint.pt")):
        print("  training %s: lipschitz train %s" % (run, " ".join(args)), flush=True)
        sh([bin_, "train", "--out", run] + args)
    return os.path.join(run, "checkpoint.pt")


def resnet_critic(path):
    import torch
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1)
            self.conv2 = nn.Conv2d(c, c, 3, padding=1)

        def forward(self, x):
            return x + self.conv2(torch.relu(self.conv1(x)))

    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), Block(16), nn.ReLU(),
                      nn.Conv2d(16, 32, 4, stride=2, padding=1), nn.ReLU(), Block(32), nn.ReLU(),
                      nn.Flatten(), nn.Linear(32 * 14 * 14, 1)).eval()
    torch.jit.trace(m, torch.randn(2, 1, 28, 28)).save(path)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin", "lipschitz"))
    ap.add_argument("--work", default="/tmp/lipschitz-network-bounds")
    ap.add_argument("--steps-scale", type=float, default=1.0)
    ap.add_argument("--only", default="")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    steps = lambda n: str(max(1, int(n * a.steps_scale)))
    only = set(filter(None, a.only.split(",")))
    t = ["--threads", str(a.threads)]

    cases = []  # (name, model, report args)
    want = lambda n: not only or n in only
    if want("8g") or want("8g-data"):
        ck = train(a.bin, os.path.join(a.work, "8g"), t)
        if want("8g"):
            cases.append(("8g", ck, []))
        if want("8g-data"):
            cases.append(("8g-data", ck, ["--domain", "data"]))
    if want("mlp12"):
        cases.append(("mlp12", train(a.bin, os.path.join(a.work, "mlp12"),
                                     ["--data", "swissroll", "--depth", "12", "--steps",
                                      steps(2000)] + t), []))
    if want("dcgan28-gp"):
        cases.append(("dcgan28-gp", train(a.bin, os.path.join(a.work, "dcgan28-gp"),
                                          ["--data", "fashion-mnist", "--steps", steps(2000)] + t),
                      []))
    if want("dcgan28-clip"):
        cases.append(("dcgan28-clip", train(a.bin, os.path.join(a.work, "dcgan28-clip"),
                                            ["--data", "fashion-mnist", "--objective", "wgan",
                                             "--steps", steps(2000)] + t), []))
    if want("resnet"):
        cases.append(("resnet", resnet_critic(os.path.join(a.work, "resnet_critic.pt")),
                      ["--input-shape", "1x28x28"]))
    if want("dcgan64"):
        models = os.path.join(a.work, "models")
        if not os.path.exists(os.path.join(models, "dcgan64_critic.pt")):
            sh([PYTHON, os.path.join(HERE, "report_models.py"), models])
        cases.append(("dcgan64", os.path.join(models, "dcgan64_critic.pt"),
                      ["--input-shape", "3x64x64"]))

    rows = []
    for name, model, extra in cases:
        out, wall = sh([a.bin, "report", model, "--json", "--bound", "best"] + t + extra)
        net = json.loads(out)["network"]
        rows.append((name, net, wall))
        print("%-13s done in %.1f s" % (name, wall), flush=True)

    lines = ["| critic | product | " + " | ".join(
        ["combettes", "eclipse", "regions", "sdp", "local"]) +
        " | answer | lower | product/answer | answer/lower | report s |",
        "|---" * 12 + "|"]
    for name, net, wall in rows:
        by = {b["method"]: b for b in net["bounds"]}

        def cell(m):
            b = by.get(m)
            if not b:
                return "–"
            if not b["certified"]:
                return "n/c"
            return "%.4g (%.2g s)" % (b["upper_bound"], b["seconds"])
        prod = by["product"]["upper_bound"]
        ans, low = net["upper_bound"], net["lower_bound"]
        lines.append("| %s | %.4g | %s | %s (%s) | %.4g | %.3g× | %s | %.1f |" % (
            name, prod, " | ".join(cell(m) for m in ["combettes", "eclipse", "regions", "sdp",
                                                     "local"]),
            "%.4g" % ans if ans else "–", net["method"], low or 0, prod / ans if ans else 0,
            "%.3g×" % (ans / low) if ans and low else "–", wall))
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
