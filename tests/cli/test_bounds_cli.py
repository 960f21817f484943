#!/usr/bin/python3
"""End-to-end soundness of the whole-network bounds of `lipschitz report` (--bound) over a zoo
of networks, against lower bounds that PyTorch measures itself.

Usage:  /usr/bin/python3 tests/cli/test_bounds_cli.py /path/to/lipschitz [unittest options]

The zoo (built here with torch and saved as TorchScript, about 25 networks) has random and
trained MLPs and conv nets, residual and BatchNorm ones, with ReLU, LeakyReLU and tanh. For every
network, every method's certified upper bound must be at least the largest local Lipschitz
constant that a search with PyTorch's autograd finds (random points, data-like points and
gradient ascent on the gradient norm; the Jacobian's σ₁ for vector outputs): nothing here reuses
the tool's own math. Tiny networks with a 2-D input also get the exact constant over a box from
the linear regions a fine grid of the box meets (numpy): every bound must be at least it, the
enumeration (`regions`) must equal it and branch and bound (`local`) must reach it within its
1 % tolerance. Also: the JSON keys, the table's rows, and the errors of --bound and --domain.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
    sys.stderr.write("usage: test_bounds_cli.py /path/to/lipschitz [unittest options]\n")
    sys.exit(2)
BIN = os.path.abspath(sys.argv.pop(1))

# A certified bound may sit below a measured gradient norm only by the float32 rounding of the
# measurement (the report works in double on the same float32 weights).
kMeasuredSlack = 1e-5
# The enumeration and the grid find the same regions: the grid's gradients are float64 numpy
# products, the enumeration's are certified within ~1e-9.
kExactTol = 1e-6
# Branch and bound stops at upper ≤ 1.01·lower.
kLocalTol = 0.01


def run(args, timeout=300):
    p = subprocess.run([BIN] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


class Residual(torch.nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


def mlp(widths, act, bn=False):
    layers = []
    for i in range(1, len(widths)):
        layers.append(torch.nn.Linear(widths[i - 1], widths[i]))
        if i + 1 < len(widths):
            if bn:
                layers.append(torch.nn.BatchNorm1d(widths[i]))
            layers.append(act())
    return torch.nn.Sequential(*layers)


def leaky():
    return torch.nn.LeakyReLU(0.2)


def train(model, shape, steps=150):
    """A few Adam steps towards a fixed smooth target: weights that are not random any more."""
    g = torch.Generator().manual_seed(5)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        x = torch.randn((64,) + shape, generator=g)
        target = torch.sin(3 * x.reshape(64, -1)).sum(1, keepdim=True)
        out = model(x).reshape(64, -1)[:, :1]
        loss = ((out - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def conv_net(act, bn=False, channels=1, side=8):
    layers = [torch.nn.Conv2d(channels, 4, 3, padding=1)]
    if bn:
        layers.append(torch.nn.BatchNorm2d(4))
    layers += [act(), torch.nn.Conv2d(4, 6, 3, stride=2, padding=1), act(), torch.nn.Flatten(),
               torch.nn.Linear(6 * (side // 2) ** 2, 1)]
    return torch.nn.Sequential(*layers)


def zoo():
    """(name, module, per-sample input shape); seeded, in eval mode."""
    torch.manual_seed(0)
    nets = [
        ("mlp_relu_2d", mlp([2, 16, 16, 1], torch.nn.ReLU), (2,)),
        ("mlp_leaky_2d", mlp([2, 24, 24, 24, 1], leaky), (2,)),
        ("mlp_tanh_2d", mlp([2, 12, 12, 1], torch.nn.Tanh), (2,)),
        ("mlp_relu_5d_vec", mlp([5, 20, 20, 3], torch.nn.ReLU), (5,)),
        ("mlp_leaky_8d", mlp([8, 32, 32, 1], leaky), (8,)),
        ("mlp_tanh_6d_vec", mlp([6, 16, 16, 16, 2], torch.nn.Tanh), (6,)),
        ("mlp_deep_relu", mlp([2] + [24] * 12 + [1], torch.nn.ReLU), (2,)),
        ("mlp_bn_relu", mlp([4, 16, 16, 1], torch.nn.ReLU, bn=True), (4,)),
        ("mlp_bn_tanh", mlp([3, 10, 10, 2], torch.nn.Tanh, bn=True), (3,)),
        ("mlp_sigmoid", mlp([3, 10, 10, 1], torch.nn.Sigmoid), (3,)),
        ("mlp_relu_linear_out", torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(),
                                                    torch.nn.Linear(8, 8), torch.nn.Linear(8, 1)),
         (3,)),
        ("residual_mlp", torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                             Residual(torch.nn.Sequential(
                                                 torch.nn.Linear(8, 8), torch.nn.ReLU(),
                                                 torch.nn.Linear(8, 8))),
                                             torch.nn.Linear(8, 1)), (4,)),
        ("conv_relu", conv_net(torch.nn.ReLU), (1, 8, 8)),
        ("conv_leaky", conv_net(leaky), (1, 8, 8)),
        ("conv_tanh", conv_net(torch.nn.Tanh), (1, 8, 8)),
        ("conv_bn_relu", conv_net(torch.nn.ReLU, bn=True), (1, 8, 8)),
        ("conv_rgb_leaky", conv_net(leaky, channels=3, side=6), (3, 6, 6)),
        ("residual_conv", torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
            Residual(torch.nn.Sequential(torch.nn.Conv2d(4, 4, 3, padding=1), torch.nn.ReLU(),
                                         torch.nn.Conv2d(4, 4, 3, padding=1))),
            torch.nn.Flatten(), torch.nn.Linear(4 * 36, 1)), (1, 6, 6)),
    ]
    trained = [
        ("trained_mlp_relu_2d", train(mlp([2, 32, 32, 1], torch.nn.ReLU), (2,)), (2,)),
        ("trained_mlp_leaky_2d", train(mlp([2, 24, 24, 24, 1], leaky), (2,)), (2,)),
        ("trained_mlp_tanh", train(mlp([4, 16, 16, 1], torch.nn.Tanh), (4,)), (4,)),
        ("trained_mlp_bn", train(mlp([3, 16, 16, 1], torch.nn.ReLU, bn=True), (3,)), (3,)),
        ("trained_conv_relu", train(conv_net(torch.nn.ReLU), (1, 8, 8)), (1, 8, 8)),
        ("trained_conv_bn_leaky", train(conv_net(leaky, bn=True), (1, 8, 8)), (1, 8, 8)),
        ("trained_residual", train(torch.nn.Sequential(
            torch.nn.Linear(3, 8), torch.nn.Tanh(),
            Residual(torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Tanh())),
            torch.nn.Linear(8, 1)), (3,)), (3,)),
    ]
    out = []
    for name, m, shape in nets + trained:
        m.eval()
        if any(isinstance(x, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) for x in m.modules()):
            with torch.no_grad():  # non-trivial running statistics
                for x in m.modules():
                    if isinstance(x, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                        x.running_mean.uniform_(-0.5, 0.5)
                        x.running_var.uniform_(0.3, 3.0)
                        x.weight.uniform_(-2, 2)
        out.append((name, m, shape))
    return out


def measured_lipschitz(model, shape, seed=1, points=512, ascent=60, box=None):
    """The largest σ₁ of the Jacobian found by random search and gradient ascent (double)."""
    model = model.double()
    g = torch.Generator().manual_seed(seed)
    if box is None:
        x = torch.randn((points,) + shape, generator=g, dtype=torch.float64) * 2
    else:
        lo, hi = box
        x = lo + (hi - lo) * torch.rand((points,) + shape, generator=g, dtype=torch.float64)

    def local(xs):
        out = []
        for xi in xs:
            j = torch.autograd.functional.jacobian(lambda t: model(t.unsqueeze(0)).reshape(-1), xi)
            out.append(torch.linalg.matrix_norm(j.reshape(j.shape[0], -1), 2))
        return torch.stack(out)

    values = local(x)
    best = values.max().item()
    starts = x[values.argsort(descending=True)[:8]].clone()
    for s in starts:
        s = s.clone().requires_grad_(True)
        opt = torch.optim.Adam([s], lr=0.02)
        for _ in range(ascent):
            y = model(s.unsqueeze(0)).reshape(-1)
            grads = [torch.autograd.grad(y[i], s, create_graph=True)[0].reshape(-1)
                     for i in range(y.numel())]
            jac = torch.stack(grads)
            val = torch.linalg.matrix_norm(jac, 2)
            opt.zero_grad()
            (-val).backward()
            opt.step()
            if box is not None:
                with torch.no_grad():
                    s.clamp_(box[0], box[1])
        best = max(best, local(s.detach().unsqueeze(0)).max().item())
    model.float()
    return best


def grid_exact_2d(model, lo, hi, n=1201):
    """The largest gradient norm over the linear regions a fine grid of [lo, hi]² meets."""
    layers = [m for m in model if isinstance(m, (torch.nn.Linear, torch.nn.ReLU,
                                                 torch.nn.LeakyReLU))]
    t = np.linspace(lo, hi, n)
    xx, yy = np.meshgrid(t, t)
    h = np.stack([xx.ravel(), yy.ravel()], 1)
    jac = np.broadcast_to(np.eye(2), (h.shape[0], 2, 2)).copy()
    for m in layers:
        if isinstance(m, torch.nn.Linear):
            w = m.weight.detach().double().numpy()
            b = m.bias.detach().double().numpy()
            h = h @ w.T + b
            jac = np.einsum("ij,njk->nik", w, jac)
        else:
            slope = 0.0 if isinstance(m, torch.nn.ReLU) else m.negative_slope
            d = np.where(h > 0, 1.0, slope)
            h = h * d
            jac = jac * d[:, :, None]
    return float(np.linalg.norm(jac, ord=2, axis=(1, 2)).max())


class Zoo(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="lipschitz-bounds-")
        cls.nets = zoo()
        cls.paths = {}
        for name, m, shape in cls.nets:
            path = os.path.join(cls.dir, name + ".pt")
            torch.jit.trace(m, torch.randn((2,) + shape)).save(path)
            cls.paths[name] = path

    def report(self, name, shape, *extra):
        code, out, err = run(["report", self.paths[name], "--input-shape",
                              "x".join(map(str, shape)), "--json", "--bound-seconds", "20",
                              "--lower-bound-seconds", "5", *extra])
        self.assertEqual(code, 0, f"{name}: {err}")
        return json.loads(out)

    def test_every_certified_bound_is_above_the_measured_gradients(self):
        self.assertGreaterEqual(len(self.nets), 20)
        tighter = 0
        for name, m, shape in self.nets:
            with self.subTest(net=name):
                r = self.report(name, shape)
                net = r["network"]
                measured = measured_lipschitz(m, shape)
                self.assertTrue(net["certified"], name)
                methods = {b["method"]: b for b in net["bounds"]}
                self.assertIn("product", methods)
                for b in net["bounds"]:
                    self.assertEqual(set(b), {"method", "upper_bound", "certified", "local",
                                              "seconds", "note"})
                    if b["certified"]:
                        self.assertGreaterEqual(b["upper_bound"], measured * (1 - kMeasuredSlack),
                                                f"{name}: {b['method']} {b['upper_bound']} below "
                                                f"a measured gradient norm {measured}")
                # The answer is the tightest certified bound, and the lower bound is below it.
                best = min(b["upper_bound"] for b in net["bounds"] if b["certified"])
                self.assertEqual(net["upper_bound"], best)
                self.assertEqual(methods[net["method"]]["upper_bound"], best)
                self.assertLessEqual(net["lower_bound"], net["upper_bound"])
                self.assertLessEqual(best, methods["product"]["upper_bound"] * (1 + 1e-9))
                tighter += best < 0.9 * methods["product"]["upper_bound"]
                if name.startswith("residual"):  # not a chain: the product alone
                    self.assertEqual(net["method"], "product")
                    self.assertIn("not a chain", net["chain_note"])
        self.assertGreater(tighter, len(self.nets) // 2)

    def test_tiny_planar_networks_reach_the_exact_constant(self):
        for name in ("mlp_relu_2d", "mlp_leaky_2d", "trained_mlp_relu_2d", "trained_mlp_leaky_2d"):
            m = dict((n, net) for n, net, _ in self.nets)[name]
            with self.subTest(net=name):
                exact = grid_exact_2d(m, -1.5, 1.5)
                r = self.report(name, (2,), "--domain", "box:-1.5,1.5", "--no-lower-bound")
                net = r["network"]
                methods = {b["method"]: b for b in net["bounds"]}
                # Under best, branch and bound is skipped once the enumeration is exact: ask.
                local = self.report(name, (2,), "--domain", "box:-1.5,1.5", "--no-lower-bound",
                                    "--bound", "local")["network"]
                self.assertEqual(local["method"], "local")
                methods["local"] = {b["method"]: b for b in local["bounds"]}["local"]
                for b in net["bounds"]:
                    if b["certified"]:
                        self.assertGreaterEqual(b["upper_bound"], exact * (1 - 1e-12), b["method"])
                self.assertTrue(methods["regions"]["certified"])
                self.assertAlmostEqual(methods["regions"]["upper_bound"] / exact, 1, delta=kExactTol)
                self.assertTrue(methods["local"]["certified"])
                self.assertLessEqual(methods["local"]["upper_bound"], exact * (1 + kLocalTol) * (1 + 1e-9))
                self.assertTrue(net["exact"])
                self.assertTrue(net["local"])
                self.assertEqual(net["domain"]["text"], "box:-1.5,1.5")
                self.assertEqual(net["domain"]["lower"], [-1.5, -1.5])
                self.assertLessEqual(net["lower_bound"], exact * (1 + 1e-9))
                self.assertGreaterEqual(net["lower_bound"], exact * (1 - kLocalTol))
                # The global constant is at least the local one.
                g = self.report(name, (2,), "--bound", "regions", "--no-lower-bound")["network"]
                self.assertEqual(g["method"], "regions")
                self.assertFalse(g["local"])
                self.assertGreaterEqual(g["upper_bound"], exact * (1 - 1e-12))

    def test_bound_picks_one_method_and_the_table_lists_them(self):
        r = self.report("mlp_relu_5d_vec", (5,), "--bound", "combettes", "--no-lower-bound")
        net = r["network"]
        self.assertEqual(net["method"], "combettes")
        self.assertEqual([b["method"] for b in net["bounds"]], ["product", "combettes"])
        code, out, err = run(["report", self.paths["mlp_relu_5d_vec"], "--input-shape", "5",
                              "--bound-seconds", "10", "--no-lower-bound"])
        self.assertEqual(code, 0, err)
        for method in ("product", "combettes", "eclipse", "sdp"):
            self.assertRegex(out, r"\n  " + method + r"( \*)?\s+[0-9.]+\s+[0-9.]+\s+(yes|no)")

    def test_errors(self):
        path = self.paths["mlp_relu_2d"]
        cases = [
            (["--bound", "tight"], "--bound: bound method must be one of product, combettes, "
                                   "eclipse, sdp, regions, local, best: got 'tight'"),
            (["--bound", "local"], "--bound local needs --domain (data or box:LO,HI)"),
            (["--domain", "ball:1"], "--domain must be 'data' or 'box:LO,HI', got 'ball:1'"),
            (["--domain", "box:1,0"], "domain 'box:1,0': expected box:LO,HI with LO < HI"),
            (["--bound-seconds", "-1"], "--bound-seconds must be a finite number >= 0"),
        ]
        for extra, message in cases:
            with self.subTest(args=extra):
                code, out, err = run(["report", path, "--input-shape", "2"] + extra)
                self.assertEqual(code, 2, err)
                self.assertEqual(out, "")
                self.assertIn(message, err)
        # Known only once the model is read: a TorchScript file brings no data of its own.
        code, out, err = run(["report", path, "--input-shape", "2", "--domain", "data"])
        self.assertEqual(code, 1, err)
        self.assertEqual(out, "")
        self.assertIn("--domain data needs --data FILE", err)


if __name__ == "__main__":
    unittest.main()
