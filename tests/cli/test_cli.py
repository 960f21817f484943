#!/usr/bin/python3
"""End-to-end tests of the `lipschitz` command-line tool against PyTorch.

Usage:  /usr/bin/python3 tests/cli/test_cli.py /path/to/lipschitz [unittest options]

The reference for every layer is its exact linear operator, built by PyTorch itself
(F.conv1d/conv2d/conv_transpose1d/conv_transpose2d applied to the identity basis, float64),
and its singular values from torch.linalg.svdvals. Nothing here reuses the tool's own math.

Covers:
  1. reference checks on ~40 seeded layers (Conv1d/2d, ConvTranspose1d/2d, stride, dilation,
     groups, padding, zeros/circular, non-square inputs, kernel larger than the torus, 1x1
     kernels, one channel, stride == kernel): sigma_1, certified intervals (dense, circular,
     forced torus-bound path, float precision), the full spectrum (--all), the reshaped-weight
     norm and the input/output shapes;
  2. error handling: exit code, one line on stderr naming the problem, nothing on stdout;
  3. the front end (no args, help, unknown command, --example);
  4. start-up time and no LibTorch in the front end.
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np
import torch
import torch.nn.functional as F

if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
    sys.stderr.write("usage: test_cli.py /path/to/lipschitz [unittest options]\n")
    sys.exit(2)
BIN = os.path.abspath(sys.argv.pop(1))

torch.set_num_threads(1)
torch.manual_seed(0)
np.random.seed(0)

TMP = None  # a tempfile directory for the whole run (setUpModule / tearDownModule)


def setUpModule():
    global TMP
    TMP = tempfile.mkdtemp(prefix="lipschitz_cli_test_")


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def run(args, timeout=60):
    """Runs `lipschitz ARGS`; returns (returncode, stdout, stderr, seconds)."""
    start = time.monotonic()
    p = subprocess.run([BIN] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"), \
        time.monotonic() - start


def save(name, array):
    path = os.path.join(TMP, name)
    np.save(path, array)
    return path


# --------------------------------------------------------------------------------------------
# Layer configurations
# --------------------------------------------------------------------------------------------

class Layer:
    """One layer: dims 1 or 2; sizes are tuples of length dims. padding None: the CLI default."""

    def __init__(self, name, dims, transposed, c_in, c_out, kernel, stride=1, dilation=1,
                 groups=1, padding=None, mode="zeros", n=8, pass_padding_with_circular=False):
        def tup(v):
            return tuple(v) if isinstance(v, (tuple, list)) else (v,) * dims
        self.name, self.dims, self.transposed = name, dims, transposed
        self.c_in, self.c_out, self.groups, self.mode = c_in, c_out, groups, mode
        self.kernel, self.stride, self.dilation = tup(kernel), tup(stride), tup(dilation)
        self.n = tup(n)
        self.k_eff = tuple((k - 1) * d + 1 for k, d in zip(self.kernel, self.dilation))
        self.padding_given = padding is not None
        self.padding = tup(padding) if padding is not None else tuple((k - 1) // 2 for k in self.k_eff)
        self.pass_padding_with_circular = pass_padding_with_circular

    def weight_shape(self):
        if self.transposed:
            return (self.c_in, self.c_out // self.groups) + self.kernel
        return (self.c_out, self.c_in // self.groups) + self.kernel

    @staticmethod
    def ext(t):
        return "x".join(str(v) for v in t)

    def cli_args(self, weight_path):
        a = ["conv", "--weight", weight_path, "--input", self.ext(self.n),
             "--stride", self.ext(self.stride), "--dilation", self.ext(self.dilation),
             "--groups", self.groups, "--padding-mode", self.mode, "--json"]
        if self.transposed:
            a.append("--transposed")
        if self.mode == "zeros" and self.padding_given:
            a += ["--padding", self.ext(self.padding)]
        if self.mode == "circular" and self.pass_padding_with_circular:
            a += ["--padding", "1"]
        return a

    def __repr__(self):
        return ("%s: %s%dd %d->%d k=%s s=%s d=%s g=%d p=%s %s n=%s" %
                (self.name, "ConvTranspose" if self.transposed else "Conv", self.dims, self.c_in,
                 self.c_out, self.kernel, self.stride, self.dilation, self.groups,
                 self.padding if self.mode == "zeros" else "-", self.mode, self.n))


L = Layer
FIXED_LAYERS = [
    # Conv1d, zero padding
    L("c1d_basic", 1, False, 3, 4, 3, padding=1, n=10),
    L("c1d_default_padding", 1, False, 2, 3, 4, n=9),  # --padding omitted: (k_eff-1)//2
    L("c1d_s2_d2_g2", 1, False, 2, 4, 3, stride=2, dilation=2, groups=2, padding=2, n=13),
    L("c1d_stride_eq_kernel", 1, False, 3, 5, 3, stride=3, padding=0, n=12),
    L("c1d_1x1", 1, False, 4, 3, 1, padding=0, n=9),
    L("c1d_one_channel", 1, False, 1, 1, 5, padding=2, n=8),
    # Conv1d, circular
    L("c1d_circ_s2", 1, False, 3, 2, 3, stride=2, mode="circular", n=10),
    L("c1d_circ_kernel_wraps", 1, False, 2, 3, 5, dilation=2, mode="circular", n=6),  # k_eff 9 > 6
    L("c1d_circ_g3_s3", 1, False, 3, 6, 3, stride=3, groups=3, mode="circular", n=9),
    L("c1d_circ_one_channel", 1, False, 1, 1, 7, mode="circular", n=5),  # k 7 > 5
    # ConvTranspose1d
    L("ct1d_zeros", 1, True, 4, 2, 4, stride=2, padding=1, n=7),
    L("ct1d_g2_s3_d2", 1, True, 4, 6, 3, stride=3, dilation=2, groups=2, padding=2, n=5),
    L("ct1d_circ_s2", 1, True, 2, 3, 3, stride=2, mode="circular", n=6),
    L("ct1d_circ_kernel_wraps", 1, True, 1, 2, 4, dilation=2, mode="circular", n=4),
    # Conv2d, zero padding
    L("c2d_basic", 2, False, 2, 3, 3, padding=1, n=(5, 7)),
    L("c2d_s2_k4", 2, False, 3, 4, 4, stride=2, padding=1, n=(8, 6)),
    L("c2d_d2_g2", 2, False, 4, 6, 3, dilation=2, groups=2, padding=2, n=(6, 5)),
    L("c2d_mixed_axes", 2, False, 2, 2, (3, 2), stride=(2, 1), dilation=(1, 2), padding=(0, 1),
      n=(7, 6)),
    L("c2d_1x1", 2, False, 6, 4, 1, padding=0, n=(4, 5)),
    L("c2d_one_channel_valid", 2, False, 1, 1, 3, padding=0, n=(6, 6)),
    L("c2d_stride_eq_kernel", 2, False, 3, 4, 2, stride=2, padding=0, n=(8, 6)),
    L("c2d_depthwise_g3", 2, False, 3, 3, 3, groups=3, padding=1, n=(6, 5)),
    L("c2d_default_padding_d2", 2, False, 2, 2, (3, 4), dilation=(2, 1), n=(6, 7)),
    # Conv2d, circular
    L("c2d_circ", 2, False, 3, 4, 3, mode="circular", n=(6, 5)),
    L("c2d_circ_s2_k4", 2, False, 4, 4, 4, stride=2, mode="circular", n=(8, 6)),
    L("c2d_circ_kernel_wraps", 2, False, 2, 2, 5, dilation=(1, 2), mode="circular", n=(4, 3)),
    L("c2d_circ_g2_s12", 2, False, 4, 6, 3, stride=(1, 2), dilation=2, groups=2,
      mode="circular", n=(6, 4), pass_padding_with_circular=True),
    L("c2d_circ_1x1_s2", 2, False, 3, 5, 1, stride=2, mode="circular", n=(4, 6)),
    L("c2d_circ_stride_eq_kernel", 2, False, 2, 3, (2, 3), stride=(2, 3), mode="circular",
      n=(6, 6)),
    # ConvTranspose2d
    L("ct2d_zeros_s2_k4", 2, True, 4, 3, 4, stride=2, padding=1, n=(4, 5)),
    L("ct2d_g2_d2", 2, True, 4, 6, 3, stride=(2, 3), dilation=2, groups=2, padding=1, n=(3, 4)),
    L("ct2d_circ_s2", 2, True, 3, 2, 3, stride=2, mode="circular", n=(4, 3)),
    L("ct2d_circ_kernel_wraps", 2, True, 2, 2, 4, dilation=2, mode="circular", n=(3, 5)),
    L("ct2d_1x1_s2", 2, True, 4, 2, 1, stride=2, padding=0, n=(4, 4)),
    L("ct2d_one_channel_p2", 2, True, 1, 1, 5, padding=2, n=(5, 4)),
    L("ct2d_circ_g3_s2", 2, True, 3, 6, 2, stride=2, groups=3, mode="circular", n=(3, 4)),
]


def random_layers(count, seed):
    """Seeded random valid small layers (operators of at most 600 rows and columns)."""
    rng = np.random.default_rng(seed)
    layers = []
    while len(layers) < count:
        dims = int(rng.integers(1, 3))
        transposed = bool(rng.integers(0, 2))
        mode = "circular" if rng.random() < 0.5 else "zeros"
        groups = int(rng.integers(1, 4))
        c_in = groups * int(rng.integers(1, 3))
        c_out = groups * int(rng.integers(1, 3))
        kernel = tuple(int(rng.integers(1, 5)) for _ in range(dims))
        stride = tuple(int(rng.integers(1, 4)) for _ in range(dims))
        dilation = tuple(int(rng.integers(1, 3)) for _ in range(dims))
        padding = tuple(int(rng.integers(0, 3)) for _ in range(dims))
        n = tuple(int(rng.integers(2, 9 if dims == 2 else 16)) for _ in range(dims))
        if mode == "circular" and not transposed:
            n = tuple(max(1, v // s) * s for v, s in zip(n, stride))
        layer = Layer("random%d" % len(layers), dims, transposed, c_in, c_out, kernel, stride,
                      dilation, groups, padding, mode, n)
        try:
            out = expected_output_spatial(layer)
        except ValueError:
            continue
        in_dim = c_in * int(np.prod(n))
        out_dim = c_out * int(np.prod(out))
        if min(out) < 1 or in_dim > 600 or out_dim > 600:
            continue
        layers.append(layer)
    return layers


def expected_output_spatial(layer):
    out = []
    for n, k, s, p in zip(layer.n, layer.k_eff, layer.stride, layer.padding):
        if layer.mode == "circular":
            if layer.transposed:
                out.append(n * s)
            else:
                if n % s:
                    raise ValueError("stride does not divide")
                out.append(n // s)
        elif layer.transposed:
            out.append((n - 1) * s - 2 * p + k)
        else:
            if n + 2 * p < k:
                raise ValueError("empty")
            out.append((n + 2 * p - k) // s + 1)
    return tuple(out)


# --------------------------------------------------------------------------------------------
# The PyTorch reference
# --------------------------------------------------------------------------------------------

CONV = {1: F.conv1d, 2: F.conv2d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d}


def circular_pad(x, pads):
    """Periodic padding of the spatial dims; pads = [(left, right)] per spatial dim. Uses
    F.pad(mode='circular') where PyTorch allows it (pad <= size) and modular indexing where the
    kernel wraps around the torus more than once; the two agree where both apply."""
    sizes = x.shape[2:]
    if all(l <= s and r <= s for (l, r), s in zip(pads, sizes)):
        flat = []
        for l, r in reversed(pads):
            flat += [l, r]
        return F.pad(x, tuple(flat), mode="circular")
    for axis, (l, r) in enumerate(pads):
        dim = 2 + axis
        idx = torch.arange(-l, x.shape[dim] + r) % x.shape[dim]
        x = x.index_select(dim, idx)
    return x


def circular_conv(x, w, layer):
    """The convolution on the torus of x's size: output size = size / stride."""
    pads = [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in layer.k_eff]
    return CONV[layer.dims](circular_pad(x, pads), w, stride=layer.stride, dilation=layer.dilation,
                            groups=layer.groups)


def reference(layer, w64):
    """(matrix A of the layer: out_dim x in_dim, output shape (c, *spatial)) in float64."""
    w = torch.from_numpy(w64)
    c_in, n = layer.c_in, layer.n
    in_dim = c_in * int(np.prod(n))
    if layer.mode == "circular" and layer.transposed:
        # Adjoint of the circular convolution with the same weight on the torus n * stride.
        big = tuple(v * s for v, s in zip(n, layer.stride))
        fwd_in = w.shape[1] * layer.groups
        fwd_dim = fwd_in * int(np.prod(big))
        basis = torch.eye(fwd_dim, dtype=torch.float64).reshape((fwd_dim, fwd_in) + big)
        y = circular_conv(basis, w, layer)
        assert tuple(y.shape[1:]) == (c_in,) + tuple(n), (y.shape, layer)
        a_fwd = y.reshape(fwd_dim, -1).T  # (c_in * n) x (c_out * big)
        return a_fwd.T.contiguous(), (layer.c_out,) + big
    basis = torch.eye(in_dim, dtype=torch.float64).reshape((in_dim, c_in) + tuple(n))
    if layer.mode == "circular":
        y = circular_conv(basis, w, layer)
    elif layer.transposed:
        y = CONV_T[layer.dims](basis, w, stride=layer.stride, padding=layer.padding,
                               dilation=layer.dilation, groups=layer.groups)
    else:
        y = CONV[layer.dims](basis, w, stride=layer.stride, padding=layer.padding,
                             dilation=layer.dilation, groups=layer.groups)
    return y.reshape(in_dim, -1).T.contiguous(), tuple(y.shape[1:])


def reshaped_norm(layer, w64):
    w = torch.from_numpy(w64)
    m = w.transpose(0, 1).reshape(w.shape[1], -1) if layer.transposed else w.reshape(w.shape[0], -1)
    return float(torch.linalg.matrix_norm(m, 2))


# --------------------------------------------------------------------------------------------
# 1. Reference checks
# --------------------------------------------------------------------------------------------

ALL_LAYERS = FIXED_LAYERS + random_layers(8, seed=20240611)


class ReferenceTest(unittest.TestCase):
    """Per-layer checks against the PyTorch operator (one test method per layer)."""

    maxDiff = 4000

    def conv_json(self, args, what):
        rc, out, err, _ = run(args)
        self.assertEqual(rc, 0, "%s: exit %d, stderr: %s\ncommand: lipschitz %s" %
                         (what, rc, err.strip(), " ".join(map(str, args))))
        try:
            return json.loads(out)
        except ValueError as e:
            self.fail("%s: stdout is not JSON (%s): %r" % (what, e, out[:500]))

    def check_contains(self, r, s1, slack, what):
        lo, hi, sn = r["lower_bound"], r["upper_bound"], r["spectral_norm"]
        self.assertLessEqual(lo, s1 * (1 + slack),
                             "%s: lower_bound %.17g above the true sigma_1 %.17g" % (what, lo, s1))
        self.assertGreaterEqual(hi, s1 * (1 - slack),
                                "%s: upper_bound %.17g below the true sigma_1 %.17g" % (what, hi, s1))
        self.assertLessEqual(lo, sn, "%s: spectral_norm below lower_bound" % what)
        self.assertLessEqual(sn, hi, "%s: spectral_norm above upper_bound" % what)

    def check_layer(self, layer, index):
        rng = np.random.default_rng(1000 + index)
        w64 = rng.standard_normal(layer.weight_shape()) * rng.uniform(0.1, 2.0)
        w32 = w64.astype(np.float32)
        p64 = save("%s_f64.npy" % layer.name, w64)
        p32 = save("%s_f32.npy" % layer.name, w32)
        a, out_shape = reference(layer, w64)
        self.assertEqual(out_shape[1:], expected_output_spatial(layer), "reference self-check")
        sv = torch.linalg.svdvals(a).numpy()
        s1 = float(sv[0])
        self.assertGreater(s1, 0)
        in_shape = [layer.c_in] + list(layer.n)
        threads = 1 + index % 2
        dense = layer.mode == "zeros" and max(a.shape) <= 1024
        exact_method = "circular-exact" if layer.mode == "circular" else "dense-svd"
        self.assertTrue(layer.mode == "circular" or dense, "test layers must be dense-sized")

        # float64 weights, double precision, --all.
        what = "%r [float64 file --all]" % layer
        r = self.conv_json(layer.cli_args(p64) + ["--all", "--threads", threads], what)
        self.assertEqual(r["input_shape"], in_shape, what)
        self.assertEqual(r["output_shape"], list(out_shape), what)
        self.assertEqual(r["method"], exact_method, what)
        self.assertTrue(r["exact"], what)
        self.assertLessEqual(abs(r["spectral_norm"] - s1), 1e-6 * s1,
                             "%s: spectral_norm %.17g, torch sigma_1 %.17g" % (what, r["spectral_norm"], s1))
        self.check_contains(r, s1, 1e-9, what)
        got = r["singular_values"]
        self.assertIsInstance(got, list, "%s: singular_values missing: %r" % (what, got))
        want = np.sort(sv)[::-1]
        self.assertEqual(len(got), len(want), "%s: number of singular values" % what)
        got = np.sort(np.asarray(got, dtype=np.float64))[::-1]
        diff = float(np.max(np.abs(got - want)))
        worst = np.argsort(-np.abs(got - want))[:4]
        self.assertLessEqual(diff, 1e-6 * s1, "%s: singular values differ by %.3g (sigma_1 %.6g); "
                             "worst (index, got, want): %s" % (what, diff, s1, [
                                 (int(i), "%.12g" % got[i], "%.12g" % want[i]) for i in worst]))
        self.assertAlmostEqual(r["reshaped_weight_norm"], reshaped_norm(layer, w64),
                               delta=1e-9 * reshaped_norm(layer, w64), msg=what)

        # float32 weights, double precision: the reference is the float32 values, exactly.
        what = "%r [float32 file]" % layer
        a32, _ = reference(layer, w32.astype(np.float64))
        s1_32 = float(torch.linalg.svdvals(a32)[0])
        r = self.conv_json(layer.cli_args(p32) + ["--threads", threads], what)
        self.assertEqual(r["output_shape"], list(out_shape), what)
        self.assertEqual(r["method"], exact_method, what)
        self.assertLessEqual(abs(r["spectral_norm"] - s1_32), 1e-6 * s1_32,
                             "%s: spectral_norm %.17g, torch sigma_1 %.17g" % (what, r["spectral_norm"], s1_32))
        self.check_contains(r, s1_32, 1e-9, what)
        ref32 = reshaped_norm(layer, w32.astype(np.float64))
        self.assertAlmostEqual(r["reshaped_weight_norm"], ref32, delta=1e-9 * ref32, msg=what)

        # float precision.
        what = "%r [--precision float]" % layer
        r = self.conv_json(layer.cli_args(p64) + ["--precision", "float"], what)
        self.assertEqual(r["output_shape"], list(out_shape), what)
        self.check_contains(r, s1, 1e-4, what)
        self.assertLessEqual(abs(r["spectral_norm"] - s1), 1e-4 * s1, what)

        if layer.mode == "zeros":
            # The certified-interval path, forced.
            for precision, slack in (("double", 1e-9), ("float", 1e-4)):
                what = "%r [--dense-limit 0 --precision %s]" % (layer, precision)
                r = self.conv_json(layer.cli_args(p64) + ["--dense-limit", 0, "--precision", precision,
                                                          "--threads", threads], what)
                self.assertEqual(r["method"], "torus-bound+lanczos", what)
                self.assertEqual(r["output_shape"], list(out_shape), what)
                self.check_contains(r, s1, slack, what)
                width = (r["upper_bound"] - r["lower_bound"]) / r["upper_bound"]
                if r["exact"]:
                    self.assertLessEqual(width, 1e-5 if precision == "double" else 1e-3,
                                         "%s: exact=true but relative width %.3g" % (what, width))
            # --all on a bound-path layer: no list (null), not something inexact.
            what = "%r [--dense-limit 0 --all]" % layer
            r = self.conv_json(layer.cli_args(p64) + ["--dense-limit", 0, "--all"], what)
            self.assertIsNone(r["singular_values"], what)
        if layer.mode == "circular" and layer.pass_padding_with_circular:
            rc, _, err, _ = run(layer.cli_args(p64))
            self.assertEqual(rc, 0)
            self.assertIn("ignored", err)


def _make_reference_test(layer, index):
    def test(self):
        self.check_layer(layer, index)
    test.__doc__ = repr(layer)
    return test


for _i, _layer in enumerate(ALL_LAYERS):
    setattr(ReferenceTest, "test_%02d_%s" % (_i, _layer.name), _make_reference_test(_layer, _i))


class ReferenceSelfTest(unittest.TestCase):
    """The reference itself: circular padding by indexing agrees with F.pad, and stride-1
    circular layers agree with torch.nn.Conv2d(padding_mode='circular')."""

    def test_circular_pad_agrees_with_fpad(self):
        x = torch.randn(2, 3, 5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        pads = [(2, 1), (3, 2)]
        idx = x
        for axis, (l, r) in enumerate(pads):
            idx = idx.index_select(2 + axis, torch.arange(-l, idx.shape[2 + axis] + r) % idx.shape[2 + axis])
        self.assertTrue(torch.equal(circular_pad(x, pads), idx))

    def test_circular_matches_nn_conv2d(self):
        torch.manual_seed(3)
        conv = torch.nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular", bias=False).double()
        layer = Layer("self", 2, False, 2, 3, 3, mode="circular", n=(5, 6))
        x = torch.randn(1, 2, 5, 6, dtype=torch.float64)
        with torch.no_grad():
            self.assertTrue(torch.allclose(conv(x), circular_conv(x, conv.weight, layer)))

    def test_transposed_reference_is_adjoint(self):
        layer = Layer("adj", 2, True, 2, 3, 3, stride=2, padding=1, n=(3, 4))
        w = np.random.default_rng(5).standard_normal(layer.weight_shape())
        a, _ = reference(layer, w)
        fwd = Layer("fwd", 2, False, 3, 2, 3, stride=2, padding=1, n=(5, 7))
        b, shape = reference(fwd, w)
        self.assertEqual(shape, (2, 3, 4))
        self.assertTrue(torch.allclose(a, b.T))


class DenseSpectrumTest(unittest.TestCase):
    """--all on the dense path when singular values repeat: a 1x1 convolution's spectrum is the
    weight matrix's singular values, each repeated once per pixel; a stride == kernel layer's is
    that of one patch matrix, repeated once per output pixel."""

    def check(self, w, args, want):
        path = save("dense_rep.npy", w)
        rc, out, err, _ = run(["conv", "--weight", path, "--all", "--json", "--threads", "1"] + args)
        self.assertEqual(rc, 0, err)
        r = json.loads(out)
        self.assertEqual(r["method"], "dense-svd")
        got = np.sort(np.asarray(r["singular_values"]))[::-1]
        want = np.sort(want)[::-1]
        self.assertEqual(len(got), len(want))
        diff = float(np.max(np.abs(got - want)))
        self.assertLessEqual(diff, 1e-9 * want[0], "lipschitz conv --weight W --all %s: singular values "
                             "off by %.3g\ngot  %s\nwant %s" % (" ".join(args), diff, got, want))

    def test_1x1_conv(self):
        w = np.random.default_rng(0).standard_normal((2, 3, 1, 1))
        sv = np.linalg.svd(w[:, :, 0, 0], compute_uv=False)
        self.check(w, ["--input", "4x4"], np.repeat(sv, 16))

    def test_stride_equals_kernel(self):
        w = np.random.default_rng(1).standard_normal((2, 3, 2, 2))
        sv = np.linalg.svd(w.reshape(2, -1), compute_uv=False)
        self.check(w, ["--input", "8x6", "--stride", "2", "--padding", "0"], np.repeat(sv, 12))


class ExtremeScaleTest(unittest.TestCase):
    """Weights at 1e±150 (float64) and 1e±20 (float32): the squared quantities inside the solvers
    would overflow or underflow; the certified interval must still contain the truth, which is
    the scale times that of the unscaled weight (the scale is a power of two, so exact)."""

    def check(self, w, args):
        base_path = save("scale_base.npy", w)
        rc, out, err, _ = run(["conv", "--weight", base_path, "--json", "--threads", "1"] + args)
        self.assertEqual(rc, 0, err)
        base = json.loads(out)
        exps = (-500, 500) if w.dtype == np.float64 else (-66, 66)
        for e in exps:
            path = save("scale_%d.npy" % e, np.ldexp(w, e).astype(w.dtype))
            rc, out, err, _ = run(["conv", "--weight", path, "--json", "--threads", "1"] + args)
            self.assertEqual(rc, 0, err)
            r = json.loads(out)
            for key in ("lower_bound", "upper_bound", "spectral_norm"):
                self.assertEqual(r[key], math.ldexp(base[key], e), "%s at scale 2^%d: %r" % (key, e, r))

    def test_circular_float64(self):
        w = np.random.default_rng(7).standard_normal((8, 6, 3, 3))
        self.check(w, ["--input", "6", "--padding-mode", "circular"])

    def test_zero_padding_float32(self):
        w = np.random.default_rng(8).standard_normal((8, 6, 3, 3)).astype(np.float32)
        self.check(w, ["--input", "12", "--precision", "float"])


class SpectrumStorageTest(unittest.TestCase):
    """A stored spectrum above 1 GiB is computed on demand instead (a 64-channel 3x3 layer on a
    224 x 224 torus stores 1.6 GB): said in the JSON and the report, same interval as stored on a
    smaller torus where both apply, and a small process."""

    def test_large_torus_on_demand(self):
        w = np.random.default_rng(12).normal(0, 0.02, (64, 64, 3, 3)).astype(np.float32)
        path = save("storage.npy", w)
        # The blocks' storage: with Gram matrices from tap products no block is formed at all.
        small = ["conv", "--weight", path, "--padding-mode", "circular", "--json", "--input", "16",
                 "--gram-source", "blocks"]
        rc, out, err, _ = run(small)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["spectrum_storage"], "stored")
        # The same layer on the same torus with too little memory allowed to store it.
        rc, out2, err, _ = run(small + ["--max-memory", "0.005"])  # 5 MiB: ~2.4 needed
        self.assertEqual(rc, 0, err)
        stored, on_demand = json.loads(out), json.loads(out2)
        self.assertEqual(on_demand["spectrum_storage"], "on-demand")
        self.assertAlmostEqual(on_demand["upper_bound"], stored["upper_bound"],
                               delta=2e-6 * stored["upper_bound"])
        rc, out, err, _ = run(["conv", "--weight", path, "--padding-mode", "circular", "--json",
                               "--input", "224", "--gram-source", "blocks"], timeout=120)
        self.assertEqual(rc, 0, err)
        r = json.loads(out)
        self.assertEqual(r["spectrum_storage"], "on-demand")
        self.assertTrue(r["exact"])
        rc, out, err, _ = run(["conv", "--weight", path, "--padding-mode", "circular",
                               "--input", "224", "--gram-source", "blocks"], timeout=120)
        self.assertEqual(rc, 0, err)
        self.assertIn("frequency blocks computed on demand", out)


class GramSourceTest(unittest.TestCase):
    """--gram-source: the sigma_1 search's Gram matrices from tap products or from the blocks
    give the same certified interval; auto picks taps for a 3x3 layer with many frequencies and
    says so (JSON gram_source, spectrum_storage none, a report line); bad values are refused."""

    def test_taps_and_blocks_agree(self):
        w = np.random.default_rng(21).normal(0, 0.05, (32, 16, 3, 3)).astype(np.float32)
        path = save("gram_source.npy", w)
        results = {}
        for mode in ("circular", "zeros"):
            for source in ("auto", "taps", "blocks"):
                rc, out, err, _ = run(["conv", "--weight", path, "--input", "24", "--json",
                                       "--padding-mode", mode, "--gram-source", source])
                self.assertEqual(rc, 0, err)
                results[mode, source] = json.loads(out)
            auto, taps, blocks = (results[mode, s] for s in ("auto", "taps", "blocks"))
            self.assertEqual(auto["gram_source"], "taps")
            self.assertEqual(taps["gram_source"], "taps")
            self.assertEqual(taps["spectrum_storage"], "none")
            self.assertEqual(blocks["gram_source"], "blocks")
            self.assertEqual(blocks["spectrum_storage"], "stored")
            # Both intervals certified: each lower bound below the other's upper bound.
            self.assertLessEqual(taps["lower_bound"], blocks["upper_bound"])
            self.assertLessEqual(blocks["lower_bound"], taps["upper_bound"])
        circ = results["circular", "taps"]
        self.assertTrue(circ["exact"])
        self.assertAlmostEqual(circ["upper_bound"], results["circular", "blocks"]["upper_bound"],
                               delta=2e-6 * circ["upper_bound"])
        rc, out, err, _ = run(["conv", "--weight", path, "--input", "24", "--padding-mode",
                               "circular"])
        self.assertEqual(rc, 0, err)
        self.assertIn("Gram matrices from products of kernel taps", out)

    def test_bad_values(self):
        path = save("gram_source_bad.npy", np.ones((4, 4, 3, 3), dtype=np.float32))
        for args, message in ((["--gram-source", "fft"], "--gram-source"),
                              (["--gram-source", "taps", "--precision", "float"], "double")):
            rc, out, err, _ = run(["conv", "--weight", path, "--input", "8"] + args)
            self.assertEqual(rc, 2, err)
            self.assertIn(message, err)
            self.assertEqual(out, "")


class FloatPrecisionRangeTest(unittest.TestCase):
    """--precision float on a float64 file whose values lie outside float32's range: analysed
    (scaled by a power of two before rounding to float), not refused as infinite or flushed to
    zero. The interval must contain the double-precision answer."""

    def test_outside_float_range(self):
        w = np.random.default_rng(9).standard_normal((4, 3, 3, 3))
        for scale in (1e-150, 1e-44, 1e39, 1e300):
            path = save("float_range.npy", w * scale)
            rc, out, err, _ = run(["conv", "--weight", path, "--input", "6", "--json", "--threads", "1"])
            self.assertEqual(rc, 0, err)
            want = json.loads(out)["spectral_norm"]
            rc, out, err, _ = run(["conv", "--weight", path, "--input", "6", "--json", "--threads", "1",
                                   "--precision", "float"])
            self.assertEqual(rc, 0, "scale %g: %s" % (scale, err))
            r = json.loads(out)
            self.assertLessEqual(r["lower_bound"], want * (1 + 1e-9), "scale %g: %r" % (scale, r))
            self.assertGreaterEqual(r["upper_bound"], want * (1 - 1e-9), "scale %g: %r" % (scale, r))
            self.assertGreater(r["lower_bound"], 0.9 * want, "scale %g: %r" % (scale, r))


class EndiannessTest(unittest.TestCase):
    def test_big_endian_and_c_contiguous_copy_agree(self):
        w = np.random.default_rng(7).standard_normal((4, 3, 3, 3))
        little = save("le.npy", w.astype("<f8"))
        big = save("be.npy", w.astype(">f8"))
        big32 = save("be32.npy", w.astype(">f4"))
        little32 = save("le32.npy", w.astype("<f4"))
        res = []
        for p in (little, big, little32, big32):
            rc, out, err, _ = run(["conv", "--weight", p, "--input", "6x5", "--json", "--threads", "1"])
            self.assertEqual(rc, 0, err)
            res.append(json.loads(out))
        self.assertEqual(res[0]["spectral_norm"], res[1]["spectral_norm"])
        self.assertEqual(res[2]["spectral_norm"], res[3]["spectral_norm"])


# --------------------------------------------------------------------------------------------
# 2. Errors
# --------------------------------------------------------------------------------------------

class ErrorTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        rng = np.random.default_rng(42)
        cls.good = save("good.npy", rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
        cls.good1d = save("good1d.npy", rng.standard_normal((4, 3, 3)).astype(np.float32))

    def expect_error(self, args, code, *keywords, timeout=30):
        try:
            rc, out, err, secs = run(args, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail("lipschitz %s: did not finish in %d s" % (" ".join(map(str, args)), timeout))
        cmd = "lipschitz " + " ".join(map(str, args))
        self.assertGreaterEqual(rc, 0, "%s: killed by signal %d; stderr: %s" % (cmd, -rc, err))
        self.assertEqual(rc, code, "%s: exit %d, expected %d; stderr: %s" % (cmd, rc, code, err.strip()))
        self.assertEqual(out, "", "%s: wrote to stdout on error: %r" % (cmd, out[:300]))
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertTrue(lines, "%s: nothing on stderr" % cmd)
        self.assertTrue(lines[0].startswith("lipschitz"), "%s: stderr %r" % (cmd, err))
        # One line naming the problem; usage errors add '(see lipschitz conv --help)'.
        extra = [l for l in lines[1:] if "--help" not in l]
        self.assertEqual(extra, [], "%s: more than one line on stderr: %r" % (cmd, err))
        for bad in ("terminate called", "what()", "Aborted", "Segmentation", "Traceback", "core dumped"):
            self.assertNotIn(bad, err, cmd)
        for k in keywords:
            self.assertTrue(re.search(k, lines[0], re.IGNORECASE),
                            "%s: stderr %r does not mention %r" % (cmd, lines[0], k))
        return lines[0]

    def conv(self, weight, inp="6", *more):
        return ["conv", "--weight", weight, "--input", inp, "--threads", "1"] + list(more)

    def test_missing_file(self):
        path = os.path.join(TMP, "no_such_file.npy")
        self.expect_error(self.conv(path), 1, "cannot open", "no_such_file")

    def test_truncated_data(self):
        with open(self.good, "rb") as f:
            data = f.read()
        path = os.path.join(TMP, "truncated.npy")
        with open(path, "wb") as f:
            f.write(data[:-10])
        self.expect_error(self.conv(path), 1, "truncated")

    def test_truncated_header(self):
        with open(self.good, "rb") as f:
            data = f.read()
        path = os.path.join(TMP, "truncated_header.npy")
        with open(path, "wb") as f:
            f.write(data[:20])
        self.expect_error(self.conv(path), 1, "truncated")

    def test_empty_file(self):
        path = os.path.join(TMP, "empty.npy")
        open(path, "wb").close()
        self.expect_error(self.conv(path), 1, "npy")

    def test_not_npy(self):
        path = os.path.join(TMP, "random.npy")
        with open(path, "wb") as f:
            f.write(b"PK" + np.random.default_rng(1).bytes(998))
        self.expect_error(self.conv(path), 1, "not a NumPy")

    def test_fortran_order(self):
        w = np.asfortranarray(np.random.default_rng(2).standard_normal((4, 3, 3, 3)).astype(np.float32))
        self.assertTrue(w.flags.f_contiguous and not w.flags.c_contiguous)
        self.expect_error(self.conv(save("fortran.npy", w)), 1, "Fortran")

    def test_int64(self):
        self.expect_error(self.conv(save("int64.npy", np.ones((4, 3, 3, 3), dtype=np.int64))), 1,
                          "float32", "i8")

    def test_complex(self):
        self.expect_error(self.conv(save("complex.npy", np.ones((4, 3, 3, 3), dtype=np.complex128))), 1,
                          "float32", "c16")

    def test_float16(self):
        self.expect_error(self.conv(save("half.npy", np.ones((4, 3, 3, 3), dtype=np.float16))), 1,
                          "float32")

    def test_wrong_rank(self):
        self.expect_error(self.conv(save("rank2.npy", np.ones((4, 3), dtype=np.float32))), 1,
                          "3-D", r"\(4, 3\)")

    def test_rank5(self):
        self.expect_error(self.conv(save("rank5.npy", np.ones((2, 2, 2, 2, 2), dtype=np.float32))), 1,
                          "3-D")

    def test_empty_dimension(self):
        self.expect_error(self.conv(save("empty_dim.npy", np.ones((0, 3, 3, 3), dtype=np.float32))), 1,
                          "empty")

    def test_groups_not_dividing(self):
        w = save("g.npy", np.ones((6, 2, 3, 3), dtype=np.float32))  # c_out 6, groups 4
        self.expect_error(self.conv(w, "6", "--groups", "4"), 1, "groups must divide", "6", "4")

    def test_groups_not_dividing_transposed(self):
        w = save("gt.npy", np.ones((6, 2, 3, 3), dtype=np.float32))  # c_in 6, groups 4
        self.expect_error(self.conv(w, "6", "--groups", "4", "--transposed"), 1, "groups must divide")

    def test_stride_not_dividing_circular(self):
        self.expect_error(self.conv(self.good, "7x8", "--stride", "2", "--padding-mode", "circular"), 1,
                          "stride must divide")

    def test_nan_weight(self):
        w = np.ones((4, 3, 3, 3), dtype=np.float32)
        w[1, 2, 0, 1] = np.nan
        self.expect_error(self.conv(save("nan.npy", w)), 1, "not finite")

    def test_inf_weight(self):
        w = np.ones((4, 3, 3), dtype=np.float64)
        w[3, 0, 2] = -np.inf
        self.expect_error(self.conv(save("inf.npy", w), "9"), 1, "not finite")

    def test_absurd_size_fails_fast(self):
        w = save("big.npy", np.ones((64, 64, 3, 3), dtype=np.float32))
        start = time.monotonic()
        self.expect_error(self.conv(w, "100000x100000"), 1, "GiB|MiB|memory", timeout=20)
        self.assertLess(time.monotonic() - start, 20)

    def test_max_memory_flag(self):
        w = save("mid.npy", np.ones((16, 16, 3, 3), dtype=np.float32))
        self.expect_error(self.conv(w, "256", "--max-memory", "0.0001"), 1, "GiB|MiB|memory")

    def test_spectrum_too_large_to_store_is_computed_on_demand(self):
        # Stored, the 8x4 layer's matrices on a 256x256 torus take 17 MB; on demand about 1 MB.
        rng = np.random.default_rng(5)
        w = save("ondemand.npy", rng.standard_normal((8, 4, 3, 3)).astype(np.float32))
        args = ["conv", "--weight", w, "--input", "256", "--padding-mode", "circular",
                "--json", "--threads", "2"]
        rc, out, err, _ = run(args)
        self.assertEqual(rc, 0, err)
        rc2, out2, err2, _ = run(args + ["--max-memory", "0.005"])
        self.assertEqual(rc2, 0, err2)
        a, b = json.loads(out), json.loads(out2)
        self.assertTrue(b["exact"])
        for key in ("lower_bound", "upper_bound"):
            self.assertAlmostEqual(a[key], b[key], delta=1e-12 * a["upper_bound"])
        # Less than even that: refused, with the size it would need.
        self.expect_error(self.conv(w, "256", "--padding-mode", "circular", "--max-memory",
                                    "0.0005"), 1, "MiB")

    def test_kernel_larger_than_padded_input(self):
        w = save("k5.npy", np.ones((2, 2, 5, 5), dtype=np.float32))
        self.expect_error(self.conv(w, "3", "--padding", "0"), 1, "empty")

    def test_transposed_empty_output(self):
        self.expect_error(self.conv(self.good, "2", "--padding", "5", "--transposed"), 1, "empty")

    def test_bad_input_text(self):
        self.expect_error(self.conv(self.good, "abc"), 2, "--input", "abc")
        self.expect_error(self.conv(self.good, "0"), 2, "--input")
        self.expect_error(self.conv(self.good, "-3"), 2, "--input")
        self.expect_error(self.conv(self.good, "4xx5"), 2, "--input")
        self.expect_error(self.conv(self.good, "4x5x6"), 2, "--input")
        self.expect_error(self.conv(self.good1d, "5x5"), 2, "--input")

    def test_bad_input_text_trailing_x(self):
        # A dangling 'x' is malformed, like 'x4' and '4xx5'; it must not pass as '4' or '4x5'.
        self.expect_error(self.conv(self.good, "4x"), 2, "--input")
        self.expect_error(self.conv(self.good, "4x5x"), 2, "--input")

    def test_bad_stride_text(self):
        self.expect_error(self.conv(self.good, "8", "--stride", "0"), 2, "--stride")

    def test_unknown_padding_mode(self):
        # A wrong value of a flag with fixed choices is a usage error (exit 2), as --precision is.
        self.expect_error(self.conv(self.good, "6", "--padding-mode", "reflect"), 2, "reflect")

    def test_unknown_solver(self):
        self.expect_error(self.conv(self.good, "6", "--solver", "qr"), 2, "qr")

    def test_usage_error_before_file_error(self):
        # A bad flag is reported as a usage error even when the weight file is missing too.
        missing = os.path.join(os.path.dirname(self.good), "no_such_weight.npy")
        self.expect_error(self.conv(missing, "6", "--groups", "0"), 2, "groups")
        self.expect_error(self.conv(missing, "6", "--precision", "half"), 2, "precision")

    def test_bad_precision(self):
        self.expect_error(self.conv(self.good, "6", "--precision", "half"), 2, "precision", "half")

    def test_missing_flags(self):
        self.expect_error(["conv", "--input", "6"], 2, "--weight")
        self.expect_error(["conv", "--weight", self.good], 2, "--input")
        self.expect_error(["conv", "--weight", self.good, "--input", "6", "--bogus"], 2, "bogus")
        self.expect_error(["conv", "--weight", self.good, "--input", "6", "--groups", "x"], 2, "groups")

    def test_bad_tolerance_and_threads(self):
        self.expect_error(self.conv(self.good, "6", "--tolerance", "2"), 2, "tolerance")
        self.expect_error(self.conv(self.good, "6", "--threads", "-1"), 2, "threads")


# --------------------------------------------------------------------------------------------
# 3. Front end
# --------------------------------------------------------------------------------------------

class FrontEndTest(unittest.TestCase):

    def test_no_args(self):
        rc, out, err, _ = run([])
        self.assertEqual(rc, 2)
        self.assertIn("Usage", err)

    def test_help(self):
        rc, out, err, _ = run(["help"])
        self.assertEqual(rc, 0, err)
        self.assertIn("conv", out)

    def test_unknown_command(self):
        rc, out, err, _ = run(["frobnicate"])
        self.assertEqual(rc, 2)
        self.assertIn("unknown command", err)
        self.assertEqual(out, "")

    def test_example_json(self):
        rc, out, err, _ = run(["conv", "--example", "--json", "--threads", "2"], timeout=120)
        self.assertEqual(rc, 0, err)
        r = json.loads(out)
        self.assertEqual(r["input_shape"], [64, 32, 32])
        self.assertEqual(r["output_shape"], [128, 16, 16])
        self.assertLessEqual(r["lower_bound"], r["spectral_norm"])
        self.assertLessEqual(r["spectral_norm"], r["upper_bound"])
        self.assertGreater(r["lower_bound"], 0)

    def test_human_report(self):
        w = save("human.npy", np.random.default_rng(9).standard_normal((3, 2, 3, 3)))
        rc, out, err, _ = run(["conv", "--weight", w, "--input", "5", "--threads", "1"])
        self.assertEqual(rc, 0, err)
        self.assertIn("spectral norm", out)


# --------------------------------------------------------------------------------------------
# 4. Start-up
# --------------------------------------------------------------------------------------------

class StartupTest(unittest.TestCase):

    def test_help_is_fast(self):
        best = min(run(["conv", "--help"])[3] for _ in range(3))
        self.assertLess(best, 0.5, "lipschitz conv --help took %.3f s" % best)
        rc, out, _, _ = run(["conv", "--help"])
        self.assertEqual(rc, 0)
        self.assertIn("--weight", out)

    def test_no_libtorch(self):
        ldd = shutil.which("ldd")
        if ldd is None:
            self.skipTest("no ldd")
        p = subprocess.run([ldd, BIN], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        text = p.stdout.decode(errors="replace")
        self.assertNotRegex(text, r"libtorch|libc10", text)


if __name__ == "__main__":
    unittest.main()
