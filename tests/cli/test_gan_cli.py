#!/usr/bin/python3
"""End-to-end tests of `lipschitz train`, `lipschitz sample` and `lipschitz eval` through the
front end (which execs lipschitz-train, lipschitz-sample and lipschitz-eval beside it).

Usage:  /usr/bin/python3 tests/cli/test_gan_cli.py /path/to/lipschitz [unittest options]

Every run is a tiny seeded CPU run (MLP width 16, depth 2, batch 32, a few steps, one thread),
so the whole file takes well under a minute on two cores. Covers:
  1. usage and data errors: exit code, one line on stderr naming the problem, nothing changed;
  2. the run directory of a short run: config.json, checkpoint.pt, metrics.jsonl / metrics.csv
     (every key, same steps), samples/*.png, summary.json; the certified bound dominates the
     measured gradient norms; LayerNorm critics are reported as not certified;
  3. the logged layer spectral norms against PyTorch (the checkpoint read with torch.jit.load;
     MLP layers by torch.linalg.matrix_norm, DCGAN convolutions by the SVD of the dense operator);
  4. stopping: SIGKILL and SIGINT, then `sample` and `train --resume`; NaN injection (exit 3,
     the last good checkpoint kept);
  5. `--resume` misuse, `eval` on a toy run, WGAN clipping, a two-step Fashion-MNIST run.
"""

import hashlib
import json
import math
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

import numpy as np  # Debian python3-numpy, installed with python3-torch

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the PyTorch comparisons skip themselves
    torch = None

if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
    sys.stderr.write("usage: test_gan_cli.py /path/to/lipschitz [unittest options]\n")
    sys.exit(2)
BIN = os.path.abspath(sys.argv.pop(1))

if torch is not None:
    torch.set_num_threads(1)

# A model small enough that one generator update takes a few milliseconds.
TINY = ["--width", "16", "--depth", "2", "--batch-size", "32", "--threads", "1",
        "--progress", "none"]
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# The keys every metrics.jsonl record and every entry of its `layers` list must have.
RECORD_KEYS = {"step", "seconds", "wasserstein_estimate", "critic_loss", "gradient_penalty",
               "generator_loss", "grad_norm_mean", "grad_norm_std", "grad_norm_min", "grad_norm_max",
               "heldout_critic_loss", "heldout_wasserstein_estimate", "layer_spectral_norms",
               "layer_grad_norms", "critic_upper_bound", "critic_certified", "critic_bound_method",
               "critic_product_bound", "layers",
               "spectral_seconds", "monitor_seconds"}
LAYER_KEYS = {"name", "input_shape", "output_shape", "spectral_norm", "lower_bound", "upper_bound",
              "exact", "reshaped_weight_norm", "activation_grad_norm", "weight_mean", "weight_std",
              "weight_min", "weight_max", "weight_at_clip"}
# Float32 gradients against a float64 bound: room for rounding, none for a wrong bound.
kGradSlack = 1e-5
# The engine's norm of a float32 weight (converted exactly to float64) against torch's float64
# SVD of the same numbers: both are backward stable, so they agree to a few ulps.
kNormRelTol = 1e-6

TMP = None  # a tempfile directory for the whole run (setUpModule / tearDownModule)


def setUpModule():
    global TMP
    TMP = tempfile.mkdtemp(prefix="lipschitz_gan_cli_test_")


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


def command(args):
    return "lipschitz " + " ".join(map(str, args))


def path_in_tmp(name):
    """A fresh path under TMP (removed first if an earlier test left it)."""
    path = os.path.join(TMP, name)
    shutil.rmtree(path, ignore_errors=True)
    return path


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def read_json(path):
    with open(path) as f:
        return json.load(f)


def png_size(path):
    """(width, height) of a PNG, after checking its signature and IHDR chunk."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != PNG_MAGIC or head[12:16] != b"IHDR":
        raise ValueError("%s is not a PNG (starts %r)" % (path, head[:16]))
    return struct.unpack(">II", head[16:24])


def snapshot(directory):
    """Every file under `directory`: relative path -> (size, mtime_ns, sha256)."""
    out = {}
    for root, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            st = os.stat(path)
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            out[os.path.relpath(path, directory)] = (st.st_size, st.st_mtime_ns, digest)
    return out


def train(test, args, timeout=120):
    """Runs `lipschitz train ARGS`, expecting exit 0; returns stderr."""
    args = ["train"] + list(args)
    rc, out, err, _ = run(args, timeout=timeout)
    test.assertEqual(rc, 0, "%s: exit %d; stderr: %s" % (command(args), rc, err.strip()))
    return err


def checkpoint_step(test, run_dir):
    """The step of RUN_DIR/checkpoint.pt, as `lipschitz sample` reports it (which also shows that
    the checkpoint loads)."""
    png = os.path.join(run_dir, "probe.png")
    args = ["sample", run_dir, "--out", png, "--count", "16"]
    rc, out, err, _ = run(args)
    test.assertEqual(rc, 0, "%s: exit %d; stderr: %s" % (command(args), rc, err.strip()))
    m = re.search(r"at step (\d+)", out)
    test.assertTrue(m, "%s: no step in %r" % (command(args), out))
    os.remove(png)
    return int(m.group(1))


def start_background(args, err_path):
    """Starts `lipschitz ARGS` with stderr to a file; the front end execs the tool, so the
    process id is the training process's own."""
    err = open(err_path, "wb")
    try:
        return subprocess.Popen([BIN] + [str(a) for a in args], stdout=subprocess.DEVNULL,
                                stderr=err)
    finally:
        err.close()


def wait_for(test, proc, path, timeout=30):
    """Polls until `path` exists; fails if `proc` ends first or the time runs out."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None:
            test.fail("training ended (exit %d) before %s appeared" % (proc.returncode, path))
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            test.fail("%s did not appear within %d s" % (path, timeout))
        time.sleep(0.02)


class ErrorChecks:
    """expect_error for a TestCase: exit code, nothing on stdout, one line on stderr (plus the
    '(see ... --help)' hint of usage errors) that mentions every keyword."""

    def expect_error(self, args, code, *keywords, timeout=60):
        rc, out, err, _ = run(args, timeout=timeout)
        cmd = command(args)
        self.assertGreaterEqual(rc, 0, "%s: killed by signal %d; stderr: %s" % (cmd, -rc, err))
        self.assertEqual(rc, code, "%s: exit %d, expected %d; stderr: %s" % (cmd, rc, code, err.strip()))
        self.assertEqual(out, "", "%s: wrote to stdout on error: %r" % (cmd, out[:300]))
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertTrue(lines, "%s: nothing on stderr" % cmd)
        self.assertTrue(lines[0].startswith("lipschitz"), "%s: stderr %r" % (cmd, err))
        extra = [l for l in lines[1:] if "--help" not in l]
        self.assertEqual(extra, [], "%s: more than one line on stderr: %r" % (cmd, err))
        for bad in ("terminate called", "what()", "Aborted", "Segmentation", "core dumped"):
            self.assertNotIn(bad, err, cmd)
        for k in keywords:
            self.assertIn(k, lines[0], "%s: stderr %r does not mention %r" % (cmd, lines[0], k))
        return lines[0]


def write_idx(directory, images=None, labels=None, prefix="train"):
    """Writes an MNIST-format pair; `images` / `labels` are raw bytes (None: a valid file of
    4 images of 8x8 pixels / 4 labels)."""
    os.makedirs(directory, exist_ok=True)
    if images is None:
        images = struct.pack(">IIII", 0x803, 4, 8, 8) + bytes(range(256))
    if labels is None:
        labels = struct.pack(">II", 0x801, 4) + bytes([0, 1, 2, 3])
    with open(os.path.join(directory, prefix + "-images-idx3-ubyte"), "wb") as f:
        f.write(images)
    with open(os.path.join(directory, prefix + "-labels-idx1-ubyte"), "wb") as f:
        f.write(labels)


# --------------------------------------------------------------------------------------------
# 1. Usage and data errors
# --------------------------------------------------------------------------------------------

class TrainUsageTest(unittest.TestCase, ErrorChecks):

    def test_help(self):
        for args in (["train", "--help"], ["train", "-h"]):
            rc, out, err, _ = run(args)
            self.assertEqual(rc, 0, "%s: %s" % (command(args), err))
            self.assertEqual(err, "")
            for flag in ("--data", "--objective", "--lambda", "--clip", "--steps", "--width",
                         "--critic-norm", "--out", "--resume", "--monitor-every",
                         "--checkpoint-every", "--threads", "--progress", "wgan-gp"):
                self.assertIn(flag, out, "%s does not list %s" % (command(args), flag))

    def test_sample_and_eval_help(self):
        for cmd in ("sample", "eval"):
            rc, out, err, _ = run([cmd, "--help"])
            self.assertEqual(rc, 0, err)
            self.assertIn("RUN_DIR", out)

    def test_unknown_flag(self):
        self.expect_error(["train", "--bogus"], 2, "bogus")

    def test_bad_objective(self):
        out = path_in_tmp("bad_objective")
        self.expect_error(["train", "--objective", "foo", "--out", out] + TINY, 2,
                          "objective must be one of gan, wgan, wgan-gp: got 'foo'")
        self.assertFalse(os.path.exists(out), "a usage error created the run directory")

    def test_bad_values(self):
        self.expect_error(["train", "--steps", "0"] + TINY, 2, "steps")
        self.expect_error(["train", "--steps", "abc"] + TINY, 2, "steps", "abc")
        self.expect_error(["train", "--critic-norm", "batchnorm"] + TINY, 2, "batchnorm")
        self.expect_error(["train", "--progress", "fancy", "--steps", "4"], 2, "--progress", "fancy")

    def test_missing_data(self):
        out = path_in_tmp("missing_data")
        self.expect_error(["train", "--data", "/nonexistent", "--out", out, "--steps", "4"] + TINY,
                          1, "/nonexistent")
        self.assertFalse(os.path.exists(out), "a data error created the run directory")

    def check_corrupt_idx(self, name, images, *keywords):
        data = os.path.join(TMP, name)
        write_idx(data, images=images)
        out = path_in_tmp(name + "_run")
        self.expect_error(["train", "--data", data, "--out", out, "--steps", "4"] + TINY, 1,
                          os.path.join(data, "train-images-idx3-ubyte"), *keywords)
        self.assertFalse(os.path.exists(out), "a data error created the run directory")

    def test_idx_wrong_magic(self):
        self.check_corrupt_idx("idx_magic", struct.pack(">IIII", 0x1234, 4, 8, 8) + bytes(256),
                               "magic")

    def test_idx_truncated_pixels(self):
        self.check_corrupt_idx("idx_truncated", struct.pack(">IIII", 0x803, 4, 8, 8) + bytes(100),
                               "truncated")

    def test_idx_truncated_header(self):
        self.check_corrupt_idx("idx_short_header", struct.pack(">II", 0x803, 4))


# --------------------------------------------------------------------------------------------
# 2. A short run and its directory
# --------------------------------------------------------------------------------------------

class ShortRunTest(unittest.TestCase, ErrorChecks):
    """One 10-step WGAN-GP run on 8 Gaussians, monitored every 2 steps."""

    STEPS, EVERY = 10, 2

    @classmethod
    def setUpClass(cls):
        cls.dir = path_in_tmp("short")
        cls.args = ["train", "--out", cls.dir, "--steps", cls.STEPS, "--monitor-every", cls.EVERY,
                    "--checkpoint-every", 5, "--seed", 3] + TINY[:-1] + ["lines"]
        cls.rc, cls.out, cls.err, _ = run(cls.args)

    def setUp(self):
        self.assertEqual(self.rc, 0, "%s: exit %d; stderr: %s" % (command(self.args), self.rc, self.err))
        self.records = read_jsonl(os.path.join(self.dir, "metrics.jsonl"))

    def test_output(self):
        self.assertEqual(self.out, "", "train writes its progress to stderr only")
        self.assertIn("step 0/%d" % self.STEPS, self.err)
        self.assertIn("step %d/%d" % (self.STEPS, self.STEPS), self.err)
        self.assertIn("completed at step %d" % self.STEPS, self.err)

    def test_config(self):
        c = read_json(os.path.join(self.dir, "config.json"))
        want = {"data": "8gaussians", "objective": "wgan-gp", "steps": self.STEPS, "width": 16,
                "depth": 2, "batch_size": 32, "threads": 1, "seed": 3,
                "monitor_every": self.EVERY, "checkpoint_every": 5, "critic_norm": "none",
                "optimizer": "adam", "lambda": 0.1, "critic_iters": 5, "lr": 1e-4}
        for key, value in want.items():
            self.assertEqual(c.get(key), value, "config.json %s" % key)

    def test_mode_coverage_over_time(self):
        # Toy mixtures: every record measures modes and high-quality share on 2,500 samples.
        for r in self.records:
            self.assertIn(r["modes_covered"], range(0, 9))
            self.assertTrue(0 <= r["high_quality_fraction"] <= 1)

    def test_files(self):
        with open(os.path.join(self.dir, "checkpoint.pt"), "rb") as f:
            self.assertEqual(f.read(2), b"PK", "checkpoint.pt is a torch::serialize (zip) archive")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "checkpoint.pt.tmp")))
        for name in ("latest.png", "step_%07d.png" % self.STEPS):
            w, h = png_size(os.path.join(self.dir, "samples", name))
            self.assertGreater(w * h, 0)
        s = read_json(os.path.join(self.dir, "summary.json"))
        self.assertEqual(s["status"], "completed")
        self.assertEqual(s["steps"], self.STEPS)
        self.assertEqual(s["message"], "")

    def test_weight_histograms(self):
        # Every layer's weight entries, counted in 40 bins between their min and max.
        widths = {"fc1": 2 * 16, "fc2": 16 * 16, "fc3": 16 * 1}
        for r in self.records:
            self.assertEqual(set(r["weight_histograms"]), set(widths))
            for name, h in r["weight_histograms"].items():
                self.assertEqual(len(h["counts"]), 40)
                self.assertEqual(sum(h["counts"]), widths[name], name)
                self.assertLessEqual(h["min"], h["max"])

    def test_critic_surface(self):
        path = os.path.join(self.dir, "samples", "surface_step_%07d.json" % self.STEPS)
        s = read_json(path)
        self.assertEqual(s["step"], self.STEPS)
        self.assertEqual(s["resolution"], 64)
        self.assertEqual(len(s["values"]), 64 * 64)
        self.assertEqual(s["x_range"], [-3, 3])
        self.assertEqual(len(s["real"]), 512)
        self.assertEqual(len(s["fake"]), 512)
        if torch is not None:
            # The grid's values are the critic's: evaluate the checkpoint's critic at two cells.
            m = torch.jit.load(os.path.join(self.dir, "checkpoint.pt"))
            sd = {k: v for k, v in m.critic.named_parameters()}
            def critic(x):
                h = x
                for i in (1, 2):
                    h = torch.relu(h @ sd["fc%d.weight" % i].T + sd["fc%d.bias" % i])
                return (h @ sd["fc3.weight"].T + sd["fc3.bias"]).item()
            for i, j in ((0, 0), (40, 17)):
                x = -3 + (j + 0.5) * 6 / 64
                y = -3 + (i + 0.5) * 6 / 64
                want = critic(torch.tensor([[x, y]], dtype=torch.float32))
                self.assertAlmostEqual(s["values"][i * 64 + j], want, delta=1e-5 * (1 + abs(want)))

    def test_metrics_jsonl(self):
        self.assertEqual([r["step"] for r in self.records], list(range(0, self.STEPS + 1, self.EVERY)))
        for r in self.records:
            self.assertEqual(RECORD_KEYS - set(r), set(), "step %d: missing keys" % r["step"])
            names = [l["name"] for l in r["layers"]]
            self.assertEqual(names, ["fc1", "fc2", "fc3"])
            self.assertEqual(list(r["layer_spectral_norms"]), names)
            self.assertEqual(list(r["layer_grad_norms"]), names)
            self.assertEqual([(l["input_shape"], l["output_shape"]) for l in r["layers"]],
                             [("2", "16"), ("16", "16"), ("16", "1")])
            for l in r["layers"]:
                self.assertEqual(LAYER_KEYS - set(l), set(), "step %d %s" % (r["step"], l["name"]))
                self.assertEqual(r["layer_spectral_norms"][l["name"]], l["spectral_norm"])
                self.assertLessEqual(l["lower_bound"], l["spectral_norm"])
                self.assertLessEqual(l["spectral_norm"], l["upper_bound"])
                self.assertTrue(l["exact"], "a dense 16x16 layer is computed to the tolerance")
                self.assertEqual(l["weight_at_clip"], 0, "only WGAN clips")
            self.assertTrue(r["critic_certified"])
            self.assertGreater(r["gradient_penalty"], 0)
            for key in ("wasserstein_estimate", "critic_loss", "grad_norm_mean", "grad_norm_max"):
                self.assertTrue(math.isfinite(r[key]), "step %d %s" % (r["step"], key))

    def test_metrics_csv_matches_jsonl(self):
        with open(os.path.join(self.dir, "metrics.csv")) as f:
            rows = [line.rstrip("\n").split(",") for line in f]
        header, rows = rows[0], rows[1:]
        self.assertEqual(header[0], "step")
        for col in ("critic_loss", "grad_norm_max", "critic_upper_bound", "fc1_spectral_norm",
                    "fc3_upper_bound"):
            self.assertIn(col, header)
        self.assertEqual(len(rows), len(self.records))
        for row, r in zip(rows, self.records):
            self.assertEqual(len(row), len(header))
            self.assertEqual(int(row[0]), r["step"])
            got = dict(zip(header, row))
            for key in ("critic_loss", "grad_norm_max", "critic_upper_bound"):
                self.assertAlmostEqual(float(got[key]) / r[key], 1, delta=1e-8, msg=key)
            self.assertAlmostEqual(float(got["fc2_spectral_norm"]) /
                                   r["layer_spectral_norms"]["fc2"], 1, delta=1e-8)

    def test_upper_bound_dominates(self):
        for r in self.records:
            lower = math.prod(l["lower_bound"] for l in r["layers"])
            upper = math.prod(l["upper_bound"] for l in r["layers"])
            bound = r["critic_upper_bound"]
            what = "step %d: critic_upper_bound %.17g" % (r["step"], bound)
            product = r["critic_product_bound"]
            self.assertGreaterEqual(product, lower, what + " below the product of lower bounds")
            self.assertAlmostEqual(product / upper, 1, delta=1e-12,
                                   msg="critic_product_bound is not the product of the layers' "
                                       "upper bounds")
            # The MLP critic's answer is the tighter composition (docs/monitoring.md).
            self.assertEqual(r["critic_bound_method"], "combettes")
            self.assertLessEqual(bound, product)
            for key in ("grad_norm_max", "grad_norm_real_max", "grad_norm_fake_max"):
                self.assertGreaterEqual(bound * (1 + kGradSlack), r[key],
                                        "%s below the measured %s %.17g" % (what, key, r[key]))

    def test_out_holding_a_run_is_refused(self):
        before = snapshot(self.dir)
        self.expect_error(["train", "--out", self.dir, "--steps", "4"] + TINY, 2, self.dir,
                          "already holds a run", "--resume")
        self.assertEqual(snapshot(self.dir), before, "a refused start changed the run directory")

    def test_torch_reads_checkpoint_and_agrees(self):
        if torch is None:
            self.skipTest("no PyTorch in this python")
        path = os.path.join(self.dir, "checkpoint.pt")
        try:
            m = torch.jit.load(path, map_location="cpu")
            params = dict(m.named_parameters())
            step = int(m.step)
        except Exception as e:  # noqa: BLE001 - any failure to read is a reason to skip
            self.skipTest("torch.jit.load cannot read the checkpoint: %s" % e)
        self.assertEqual(step, self.STEPS)
        final = self.records[-1]
        self.assertEqual(final["step"], step, "the last record and the checkpoint are one state")
        for l in final["layers"]:
            w = params["critic.%s.weight" % l["name"]].detach().double()
            want = float(torch.linalg.matrix_norm(w, 2))
            what = "%s at step %d: logged %.17g, torch %.17g" % (l["name"], step, l["spectral_norm"], want)
            self.assertLessEqual(abs(l["spectral_norm"] - want), kNormRelTol * want, what)
            self.assertLessEqual(abs(l["reshaped_weight_norm"] - want), kNormRelTol * want, what)
            self.assertLessEqual(l["lower_bound"], want * (1 + 1e-12), what)
            self.assertGreaterEqual(l["upper_bound"], want * (1 - 1e-12), what)


class FixedGeneratorTest(unittest.TestCase):
    """--fixed-generator: only the critic trains, against real data + N(0, 1) noise."""

    def test_fixed_generator(self):
        d = path_in_tmp("fixed")
        train(self, ["--out", d, "--steps", 6, "--monitor-every", 3, "--fixed-generator",
                     "--objective", "wgan"] + TINY)
        self.assertTrue(read_json(os.path.join(d, "config.json"))["fixed_generator"])
        s = read_json(os.path.join(d, "samples", "surface_step_%07d.json" % 6))
        fake = np.array(s["fake"])
        # 8 Gaussians (scale 2, σ 0.02, / 1.414) plus unit noise: spread ≈ √(1.4² / 2 + 1).
        self.assertGreater(fake.std(), 1.0)
        self.assertLess(fake.std(), 1.6)
        if torch is not None:
            # The generator is neither used nor trained: after 1 step and after 6 its weights
            # are the same (the initial ones).
            d0 = path_in_tmp("fixed_step1")
            train(self, ["--out", d0, "--steps", 1, "--monitor-every", 3, "--fixed-generator",
                         "--objective", "wgan"] + TINY)
            g6 = dict(torch.jit.load(os.path.join(d, "checkpoint.pt")).generator.named_parameters())
            g0 = dict(torch.jit.load(os.path.join(d0, "checkpoint.pt")).generator.named_parameters())
            for k in g0:
                self.assertTrue(torch.equal(g0[k], g6[k]), k)


class LayerNormTest(unittest.TestCase):

    def test_layernorm_critic_is_not_certified(self):
        d = path_in_tmp("layernorm")
        train(self, ["--out", d, "--steps", 4, "--monitor-every", 2, "--critic-norm", "layernorm"] + TINY)
        records = read_jsonl(os.path.join(d, "metrics.jsonl"))
        self.assertEqual([r["step"] for r in records], [0, 2, 4])
        for r in records:
            self.assertIs(r["critic_certified"], False)
            self.assertIsNone(r["critic_upper_bound"], "no number that is not a bound")
            self.assertEqual([l["name"] for l in r["layers"]], ["fc1", "fc2", "fc3"])
            for l in r["layers"]:
                self.assertGreater(l["spectral_norm"], 0, "layers are still measured")
        with open(os.path.join(d, "metrics.csv")) as f:
            header, first = f.readline().strip().split(","), f.readline().strip().split(",")
        self.assertEqual(dict(zip(header, first))["critic_upper_bound"], "nan")


# --------------------------------------------------------------------------------------------
# 3. Stopping, resuming, NaN
# --------------------------------------------------------------------------------------------

class StopResumeTest(unittest.TestCase):

    def long_run(self, name, every=1, checkpoint_every=5):
        d = path_in_tmp(name)
        args = ["train", "--out", d, "--steps", 100000, "--checkpoint-every", checkpoint_every,
                "--monitor-every", every] + TINY
        return d, start_background(args, d + ".stderr")

    def check_resumed(self, d, final, every=1):
        """After a resume to `final` steps: completed, and the logs hold each step once, in order,
        exactly as an uninterrupted run logs them."""
        s = read_json(os.path.join(d, "summary.json"))
        self.assertEqual((s["status"], s["steps"]), ("completed", final))
        self.assertEqual(read_json(os.path.join(d, "config.json"))["steps"], final)
        steps = [r["step"] for r in read_jsonl(os.path.join(d, "metrics.jsonl"))]
        self.assertTrue(all(a < b for a, b in zip(steps, steps[1:])),
                        "metrics.jsonl steps not strictly increasing: %s" % steps)
        self.assertEqual(steps, list(range(0, final + 1, every)))
        with open(os.path.join(d, "metrics.csv")) as f:
            csv_steps = [int(line.split(",")[0]) for line in f.readlines()[1:]]
        self.assertEqual(csv_steps, steps, "metrics.csv and metrics.jsonl disagree")
        self.assertEqual(checkpoint_step(self, d), final)

    def test_sigkill_then_sample_and_resume(self):
        d, proc = self.long_run("killed")
        wait_for(self, proc, os.path.join(d, "checkpoint.pt"))
        time.sleep(0.2)  # a few steps past the checkpoint: records the resume must rewrite
        proc.send_signal(signal.SIGKILL)
        self.assertEqual(proc.wait(timeout=30), -signal.SIGKILL)
        self.assertFalse(os.path.exists(os.path.join(d, "summary.json")))

        rc, out, err, _ = run(["sample", d])
        self.assertEqual(rc, 0, "lipschitz sample %s: %s" % (d, err))
        png_size(os.path.join(d, "sample.png"))
        m = re.search(r"at step (\d+)", out)
        self.assertTrue(m, out)
        step = int(m.group(1))
        self.assertGreater(step, 0)
        self.assertEqual(step % 5, 0, "checkpoints every 5 steps")

        train(self, ["--resume", d, "--steps", step + 5, "--threads", 1, "--progress", "none"])
        self.check_resumed(d, step + 5)

    def test_sigint_checkpoints_and_exits_130(self):
        d, proc = self.long_run("interrupted", every=2)
        wait_for(self, proc, os.path.join(d, "checkpoint.pt"))
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.fail("SIGINT did not stop training within 30 s")
        with open(d + ".stderr") as f:
            err = f.read()
        self.assertEqual(rc, 130, err)
        self.assertIn("--resume %s" % d, err)
        s = read_json(os.path.join(d, "summary.json"))
        self.assertEqual(s["status"], "interrupted")
        step = checkpoint_step(self, d)
        self.assertEqual(step, s["steps"], "the interrupted run checkpoints where it stopped")

        final = step + 6 - step % 2  # a multiple of --monitor-every
        train(self, ["--resume", d, "--steps", final, "--progress", "none"])
        self.check_resumed(d, final, every=2)

    def test_nan_injection(self):
        d = path_in_tmp("nan")
        args = ["train", "--out", d, "--steps", 20, "--inject-nan-at", 6, "--checkpoint-every", 2,
                "--monitor-every", 1] + TINY
        rc, out, err, _ = run(args)
        self.assertEqual(rc, 3, "%s: exit %d; stderr: %s" % (command(args), rc, err))
        self.assertIn("critic loss nan", err)
        self.assertIn("last good checkpoint", err)
        self.assertIn(os.path.join(d, "checkpoint.pt") + " (step 4)", err)
        for bad in ("terminate called", "Aborted", "core dumped"):
            self.assertNotIn(bad, err)
        s = read_json(os.path.join(d, "summary.json"))
        self.assertEqual(s["status"], "non_finite")
        self.assertIn("last good checkpoint", s["message"])

        rc, out, err, _ = run(["eval", d, "--json", "--threads", 1, "--samples", 500])
        self.assertEqual(rc, 0, err)
        r = json.loads(out)
        self.assertEqual(r["step"], 4, "the checkpoint is the last good one, before step 6")
        self.assertTrue(math.isfinite(r["sliced_wasserstein"]), "the kept models are finite")

    def test_killed_before_first_checkpoint_can_continue(self):
        # A run killed before its first periodic checkpoint (by default the first 1000 steps):
        # the step-0 checkpoint makes it resumable; killed even before that, it may be started
        # again with --out. One of the two must work.
        d, proc = self.long_run("killed_early", checkpoint_every=100000)
        wait_for(self, proc, os.path.join(d, "metrics.jsonl"))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        rc1, _, err1, _ = run(["train", "--resume", d, "--steps", 4, "--progress", "none"])
        rc2, _, err2, _ = run(["train", "--out", d, "--steps", 4] + TINY)
        self.assertTrue(rc1 == 0 or rc2 == 0, "neither resume (exit %d: %s) nor a fresh start "
                        "(exit %d: %s) continues a run killed before its first checkpoint"
                        % (rc1, err1.strip(), rc2, err2.strip()))


class ResumeMisuseTest(unittest.TestCase, ErrorChecks):

    @classmethod
    def setUpClass(cls):
        cls.dir = path_in_tmp("resume_base")
        args = ["train", "--out", cls.dir, "--steps", 6, "--monitor-every", 3] + TINY
        cls.rc, _, cls.err, _ = run(args)

    def setUp(self):
        self.assertEqual(self.rc, 0, self.err)

    def copy_of_run(self, name):
        """A copy of the finished run, for the cases that may change it when they fail."""
        d = path_in_tmp(name)
        shutil.copytree(self.dir, d)
        return d

    def test_model_flag_with_resume(self):
        before = snapshot(self.dir)
        self.expect_error(["train", "--resume", self.dir, "--width", "8"], 2,
                          "only --steps and --threads may be given", "width")
        self.assertEqual(snapshot(self.dir), before)

    def test_out_with_resume(self):
        # --resume continues the run where it is; an --out beside it must not be ignored.
        d = self.copy_of_run("resume_with_out")
        elsewhere = path_in_tmp("resume_out_elsewhere")
        before = snapshot(d)
        self.expect_error(["train", "--resume", d, "--out", elsewhere], 2, "--out")
        self.assertEqual(snapshot(d), before)
        self.assertFalse(os.path.exists(elsewhere))

    def test_no_checkpoint(self):
        d = path_in_tmp("no_checkpoint")
        os.makedirs(d)
        self.expect_error(["train", "--resume", d], 1, os.path.join(d, "checkpoint.pt"))
        self.expect_error(["sample", d], 1, os.path.join(d, "checkpoint.pt"))

    def test_garbage_checkpoint(self):
        d = path_in_tmp("garbage_checkpoint")
        os.makedirs(d)
        for content in (b"", b"hello\n", bytes(range(256)) * 20, b"PK\x03\x04" + bytes(100)):
            with open(os.path.join(d, "checkpoint.pt"), "wb") as f:
                f.write(content)
            self.expect_error(["train", "--resume", d], 1, "checkpoint.pt",
                              "not a lipschitz training checkpoint")
        self.expect_error(["sample", d], 1, "not a lipschitz training checkpoint")
        self.expect_error(["eval", d], 1, "not a lipschitz training checkpoint")

    def test_foreign_torch_archive(self):
        if torch is None:
            self.skipTest("no PyTorch in this python")
        d = path_in_tmp("foreign_checkpoint")
        os.makedirs(d)
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 3)), os.path.join(d, "checkpoint.pt"))
        self.expect_error(["train", "--resume", d], 1, "not a lipschitz training checkpoint")

    def test_bad_steps_with_resume(self):
        # --steps given with --resume gets the same checks as without it.
        for flag, value in (("--steps", "abc"), ("--threads", "x"), ("--steps", "-5")):
            with self.subTest(flag=flag, value=value):
                d = self.copy_of_run("resume_bad_value")
                before = snapshot(d)
                self.expect_error(["train", "--resume", d, flag, value], 2, flag[2:], value)
                self.assertEqual(snapshot(d), before)

    def test_steps_below_checkpoint(self):
        # The run is at step 6: asking for 3 steps cannot be done, and must not rewrite
        # config.json to "steps": 3 beside a checkpoint at step 6.
        d = self.copy_of_run("resume_fewer_steps")
        before = snapshot(d)
        self.expect_error(["train", "--resume", d, "--steps", "3"], 2, "steps", "6")
        self.assertEqual(snapshot(d), before)


# --------------------------------------------------------------------------------------------
# 4. eval, WGAN clipping, images
# --------------------------------------------------------------------------------------------

class EvalTest(unittest.TestCase, ErrorChecks):

    @classmethod
    def setUpClass(cls):
        cls.dir = path_in_tmp("eval_run")
        args = ["train", "--out", cls.dir, "--steps", 4, "--monitor-every", 0] + TINY
        cls.rc, _, cls.err, _ = run(args)

    def setUp(self):
        self.assertEqual(self.rc, 0, self.err)

    def test_json(self):
        rc, out, err, _ = run(["eval", self.dir, "--json", "--threads", 1])
        self.assertEqual(rc, 0, err)
        r = json.loads(out)
        for key in ("data", "step", "samples", "modes_covered", "modes_total",
                    "high_quality_fraction", "high_quality_per_mode", "sliced_wasserstein",
                    "sliced_wasserstein_data"):
            self.assertIn(key, r)
        self.assertEqual(r["data"], "8gaussians")
        self.assertEqual(r["step"], 4)
        self.assertEqual(r["samples"], 2500)
        self.assertEqual(r["modes_total"], 8)
        self.assertTrue(0 <= r["modes_covered"] <= 8)
        self.assertTrue(0 <= r["high_quality_fraction"] <= 1)
        per_mode = r["high_quality_per_mode"]
        self.assertEqual(len(per_mode), 8)
        self.assertEqual(sum(per_mode), round(r["high_quality_fraction"] * r["samples"]))
        self.assertEqual(r["modes_covered"], sum(1 for n in per_mode if n > 0))
        self.assertGreaterEqual(r["sliced_wasserstein"], 0)
        self.assertGreaterEqual(r["sliced_wasserstein_data"], 0)
        # A generator trained for 4 steps is far from the data; two data draws are close.
        self.assertLess(r["sliced_wasserstein_data"], r["sliced_wasserstein"])
        self.assertNotIn("frechet_distance", r, "no classifier metrics for toy data")

    def test_text(self):
        rc, out, err, _ = run(["eval", self.dir, "--threads", 1, "--samples", 500])
        self.assertEqual(rc, 0, err)
        self.assertIn("modes covered", out)
        self.assertIn("step 4", out)
        self.assertIn("sliced Wasserstein", out)

    def test_missing_dir(self):
        d = os.path.join(TMP, "no_such_run")
        self.expect_error(["eval", d], 1, d)
        self.expect_error(["sample", d], 1, d)

    def test_missing_run_argument(self):
        rc, out, err, _ = run(["eval"])
        self.assertEqual(rc, 2)
        self.assertIn("RUN_DIR", err)

    def test_sample_count_and_out(self):
        png = os.path.join(TMP, "eval_run_sample.png")
        rc, out, err, _ = run(["sample", self.dir, "--out", png, "--count", 10])
        self.assertEqual(rc, 0, err)
        self.assertIn("10 samples at step 4", out)
        png_size(png)


class WganTest(unittest.TestCase):

    def test_weights_stay_clipped(self):
        d = path_in_tmp("wgan")
        train(self, ["--out", d, "--objective", "wgan", "--steps", 5, "--monitor-every", 1] + TINY)
        c = read_json(os.path.join(d, "config.json"))
        self.assertEqual((c["optimizer"], c["lr"], c["clip"]), ("rmsprop", 5e-5, 0.01))
        clip = c["clip"]
        records = read_jsonl(os.path.join(d, "metrics.jsonl"))
        self.assertEqual([r["step"] for r in records], list(range(6)))
        for r in records:
            self.assertEqual(r["gradient_penalty"], 0)
            if r["step"] == 0:
                continue  # Arjovsky et al., Algorithm 1, clips after each critic update
            for l in r["layers"]:
                what = "step %d %s" % (r["step"], l["name"])
                self.assertLessEqual(l["weight_max"], clip, what)
                self.assertGreaterEqual(l["weight_min"], -clip, what)
                self.assertGreater(l["weight_at_clip"], 0, what)
                self.assertLessEqual(l["weight_at_clip"], 1, what)


@unittest.skipUnless(os.path.isdir(FASHION_MNIST), FASHION_MNIST + " not installed")
class ImageTest(unittest.TestCase):

    def test_fashion_mnist_dcgan(self):
        d = path_in_tmp("fashion")
        train(self, ["--data", "fashion-mnist", "--out", d, "--width", 8, "--batch-size", 16,
                     "--steps", 2, "--monitor-every", 1, "--monitor-batch", 8, "--threads", 2,
                     "--progress", "none"], timeout=180)
        c = read_json(os.path.join(d, "config.json"))
        self.assertEqual((c["model"], c["latent_dim"]), ("dcgan", 128))
        w, h = png_size(os.path.join(d, "samples", "latest.png"))
        self.assertGreaterEqual(min(w, h), 28)
        records = read_jsonl(os.path.join(d, "metrics.jsonl"))
        self.assertEqual([r["step"] for r in records], [0, 1, 2])
        for r in records:
            shapes = [(l["name"], l["input_shape"], l["output_shape"]) for l in r["layers"]]
            self.assertEqual(shapes[:3], [("conv1", "1x28x28", "8x14x14"),
                                          ("conv2", "8x14x14", "16x7x7"),
                                          ("conv3", "16x7x7", "32x3x3")])
            self.assertEqual(len(shapes), 4)
            self.assertTrue(shapes[3][0].startswith("fc"), shapes[3])
            self.assertEqual(shapes[3][1:], (str(32 * 3 * 3), "1"))
            self.assertTrue(r["critic_certified"])
            self.assertGreaterEqual(r["critic_upper_bound"] * (1 + kGradSlack), r["grad_norm_max"])
        self.check_against_torch(d, records[-1])

    def check_against_torch(self, d, final):
        """Each layer's certified interval holds the largest singular value of its dense operator,
        built by PyTorch (F.conv2d on the identity basis, float64) from the checkpoint."""
        if torch is None:
            return
        try:
            m = torch.jit.load(os.path.join(d, "checkpoint.pt"), map_location="cpu")
            params = dict(m.named_parameters())
        except Exception:  # noqa: BLE001 - reading is the tested case of ShortRunTest
            return
        self.assertEqual(int(m.step), final["step"])
        for l in final["layers"]:
            w = params["critic.%s.weight" % l["name"]].detach().double()
            if w.dim() == 4:
                c, h, wd = (int(v) for v in l["input_shape"].split("x"))
                n = c * h * wd
                basis = torch.eye(n, dtype=torch.float64).reshape(n, c, h, wd)
                a = F.conv2d(basis, w, stride=2, padding=1).reshape(n, -1)
                self.assertEqual("x".join(map(str, F.conv2d(basis[:1], w, stride=2, padding=1)
                                              .shape[1:])), l["output_shape"])
            else:
                a = w
            s1 = float(torch.linalg.matrix_norm(a, 2))
            what = "%s: torch sigma_1 %.17g, logged [%.17g, %.17g]" % (
                l["name"], s1, l["lower_bound"], l["upper_bound"])
            self.assertLessEqual(l["lower_bound"], s1 * (1 + 1e-9), what)
            self.assertGreaterEqual(l["upper_bound"], s1 * (1 - 1e-9), what)
            reshaped = float(torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), 2))
            self.assertLessEqual(abs(l["reshaped_weight_norm"] - reshaped), kNormRelTol * reshaped)

    def layer_shapes(self, d):
        records = read_jsonl(os.path.join(d, "metrics.jsonl"))
        return [(l["name"], l["input_shape"], l["output_shape"]) for l in records[-1]["layers"]]

    def test_cifar10_binary(self):
        # Six CIFAR-10 batch files of 20 random records each (1 label byte + 3x32x32 pixels).
        data = path_in_tmp("cifar")
        os.makedirs(data)
        rng = np.random.default_rng(0)
        for name in ["data_batch_%d.bin" % i for i in range(1, 6)] + ["test_batch.bin"]:
            rec = rng.integers(0, 256, (20, 3073), dtype=np.uint8)
            rec[:, 0] %= 10
            rec.tofile(os.path.join(data, name))
        d = path_in_tmp("cifar_run")
        train(self, ["--data", data, "--out", d, "--width", 8, "--batch-size", 4, "--steps", 2,
                     "--monitor-every", 1, "--monitor-batch", 4, "--threads", 1,
                     "--progress", "none"])
        self.assertEqual(self.layer_shapes(d)[:1], [("conv1", "3x32x32", "8x16x16")])
        self.assertEqual(self.layer_shapes(d)[-1][1:], (str(32 * 4 * 4), "1"))
        self.assertIn("100 train, 20 held out, 3x32x32", read_json(os.path.join(d, "config.json"))
                      ["data_description"])

    def test_image_folder(self):
        # PNG files written with zlib alone; a folder is resized/cropped to 64x64 RGB by default.
        data = path_in_tmp("folder")
        os.makedirs(os.path.join(data, "sub"))
        rng = np.random.default_rng(1)
        for i in range(12):
            h, w = 40 + i, 50
            pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))

            def chunk(kind, body):
                return (struct.pack(">I", len(body)) + kind + body +
                        struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
            png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                   chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
            with open(os.path.join(data, "sub" if i % 2 else "", "img%02d.png" % i), "wb") as f:
                f.write(png)
        d = path_in_tmp("folder_run")
        train(self, ["--data", data, "--out", d, "--width", 4, "--batch-size", 4, "--steps", 2,
                     "--monitor-every", 1, "--monitor-batch", 4, "--threads", 1,
                     "--progress", "none"])
        shapes = self.layer_shapes(d)
        self.assertEqual(shapes[0], ("conv1", "3x64x64", "4x32x32"))
        self.assertEqual([s[0] for s in shapes], ["conv1", "conv2", "conv3", "conv4", "fc5"])
        # every 10th image is held out: 12 images -> 10 train, 2 held out
        self.assertIn("10 train, 2 held out, 3x64x64",
                      read_json(os.path.join(d, "config.json"))["data_description"])


if __name__ == "__main__":
    unittest.main()
