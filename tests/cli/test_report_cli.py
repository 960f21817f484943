#!/usr/bin/python3
"""End-to-end tests of `lipschitz report` (the program lipschitz-report, run by the front end)
against references PyTorch computes itself.

Usage:  /usr/bin/python3 tests/cli/test_report_cli.py /path/to/lipschitz [unittest options]

The models and their references come from tests/report/make_fixtures.py, run once into a
temporary directory (about 20 s on two cores). Set LIPSCHITZ_REPORT_FIXTURES=DIR to use fixtures
already written there by `make_fixtures.py DIR` instead. Each fixture NAME has NAME.pt
(torch.jit.trace), NAME.onnx (torch.onnx.export, opset 17) and NAME.json, whose references are
the dense operator of every layer at its real input size and its σ₁, built by PyTorch in
float64: nothing here reuses the tool's own math. Covers:
  1. every model, as TorchScript and as ONNX: per-layer norms, intervals, reshaped-weight norms,
     shapes and BatchNorm folding against the dense σ₁; the network's certified upper bound
     against an empirical lower bound from PyTorch's own gradients; what is not certified and
     why (LayerNorm, softmax); TorchScript and ONNX reports of one model agree. ONNX files
     whose circular padding torch.onnx wrote wrongly (PyTorch < 2.0, pytorch/pytorch#86690:
     make_fixtures.py evaluates the Slice/Concat nodes to find out) are not the model: their
     report must not certify it, and must say why ("circular");
  2. the output formats (--json, --markdown, --csv, the default table) and --output;
  3. --data, --seed, --tolerance;
  4. errors: exit code, one line on stderr naming the file or the field, nothing on stdout;
  5. a `lipschitz train` checkpoint against torch.linalg.matrix_norm of its weights.
"""

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import zipfile

import numpy as np  # Debian python3-numpy, installed with python3-torch

try:
    import torch
except ImportError:  # the checkpoint comparison skips itself
    torch = None

if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
    sys.stderr.write("usage: test_report_cli.py /path/to/lipschitz [unittest options]\n")
    sys.exit(2)
BIN = os.path.abspath(sys.argv.pop(1))

HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_FIXTURES = os.path.join(HERE, "..", "report", "make_fixtures.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
MODELS = ["dcgan_critic", "resnet_critic", "bn_critic", "layernorm_critic", "sn_critic",
          "conv1d_net", "geometry_net", "linear_only", "unknown_op"]

# An `exact` layer norm against the dense σ₁ of the same float32 weights in float64: the
# report's point estimate lies in a certified interval of relative width 1e-6 (the default
# tolerance), the reference is backward stable; 1e-5 leaves room for neither a wrong operator
# nor a wrong size.
kExactRelTol = 1e-5
# Certified bounds against the dense σ₁: only rounding of the reference may cross them.
kBoundRelSlack = 1e-6
# The reshaped-weight norm: the same matrix, two SVDs.
kReshapedRelTol = 1e-5
# BatchNorm folding: the pair's factor is at most the conv's upper bound times the BatchNorm's.
kFoldSlack = 1e-9
# TorchScript and ONNX reports of one model: the same weights (spectral_norm's and folded
# weights are computed in float32 by both, possibly in another order), the same engine.
kFormatsRelTol = 1e-6
# Power iteration on a purely linear network finds its norm.
kLinearLowerRelTol = 0.01
# Timing and size keys differ between two runs of the same report.
TIME_KEYS = ("seconds",)

LAYER_KEYS = {"index", "name", "type", "kind", "inputs", "input_shape", "output_shape",
              "spectral_norm", "lower_bound", "upper_bound", "exact", "reshaped_weight_norm",
              "lipschitz_factor", "cumulative_bound", "method", "note", "seconds"}
KINDS = {"conv", "batch_norm", "layer_norm", "activation", "max_pool", "pad", "reshape", "add",
         "affine", "unknown"}
NETWORK_KEYS = {"upper_bound", "lower_bound", "certified", "ratio", "reasons",
                "lower_bound_method"}
CSV_COLUMNS = {"name", "type", "input_shape", "output_shape", "spectral_norm", "lower_bound",
               "upper_bound", "exact", "reshaped_weight_norm"}
WEIGHTED_TYPES = {"Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "Linear"}
CRASH_MARKERS = ("terminate called", "what()", "Aborted", "Segmentation", "core dumped",
                 "Traceback", "Exception raised from")

TMP = None       # a tempfile directory for the whole run (setUpModule / tearDownModule)
FIXTURES = None  # where the fixtures are
_manifests = {}
_reports = {}


def setUpModule():
    global TMP, FIXTURES
    TMP = tempfile.mkdtemp(prefix="lipschitz_report_cli_test_")
    FIXTURES = os.environ.get("LIPSCHITZ_REPORT_FIXTURES")
    if FIXTURES and os.path.exists(os.path.join(FIXTURES, MODELS[-1] + ".json")):
        return
    FIXTURES = FIXTURES or os.path.join(TMP, "fixtures")
    p = subprocess.run([PYTHON, MAKE_FIXTURES, FIXTURES], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=600)
    if p.returncode != 0:
        raise RuntimeError("make_fixtures.py failed (exit %d):\n%s" %
                           (p.returncode, p.stderr.decode(errors="replace")))


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

def run(args, timeout=120):
    """Runs `lipschitz ARGS`; returns (returncode, stdout, stderr, seconds)."""
    start = time.monotonic()
    p = subprocess.run([BIN] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"), \
        time.monotonic() - start


def command(args):
    return "lipschitz " + " ".join(map(str, args))


def fixture(name):
    return os.path.join(FIXTURES, name)


def manifest(name):
    if name not in _manifests:
        with open(fixture(name + ".json")) as f:
            _manifests[name] = json.load(f)
    return _manifests[name]


def shape_arg(shape):
    return "x".join(str(d) for d in shape)


def model_args(file_name):
    """`report FILE`, with --input-shape from the manifest for TorchScript files (which do not
    record it); ONNX files carry it."""
    args = ["report", fixture(file_name)]
    if file_name.endswith(".pt"):
        base = os.path.basename(file_name)[:-3]
        args += ["--input-shape", shape_arg(manifest(base)["input_shape"])]
    return args


def report(test, file_name, *extra):
    """The parsed --json report of a fixture (one run per file and arguments)."""
    args = model_args(file_name) + ["--json", "--threads", "1"] + [str(e) for e in extra]
    key = tuple(args)
    if key not in _reports:
        rc, out, err, _ = run(args)
        test.assertEqual(rc, 0, "%s: exit %d; stderr: %s" % (command(args), rc, err.strip()))
        try:
            _reports[key] = json.loads(out)
        except ValueError as e:
            test.fail("%s: not one JSON object (%s): %r" % (command(args), e, out[:500]))
    return _reports[key]


def without_times(value):
    """A copy of a JSON value with every "seconds" entry removed."""
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if k not in TIME_KEYS}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


def normalized(text):
    """Lower case without '_', '-' and spaces: "LayerNormalization" contains "layernorm"."""
    return re.sub(r"[_\- ]", "", text.lower())


def layer_class(type_name):
    """What a layer is for matching report rows to manifest entries."""
    t = normalized(type_name)
    if "batchnorm" in t:
        return "batch_norm"
    if "avg" in t or "average" in t:
        return "avg_pool"
    return "weighted"


def row_class(row):
    if row["kind"] == "batch_norm":
        return "batch_norm"
    if row["reshaped_weight_norm"] is not None:
        return "weighted"
    if row["kind"] == "conv" and layer_class(row["type"]) == "avg_pool":
        return "avg_pool"
    return None


def weighted_rows(r):
    """Conv and Linear rows: those with a reshaped-weight norm."""
    return [row for row in r["layers"] if row["reshaped_weight_norm"] is not None]


class ErrorChecks:
    """expect_error for a TestCase: exit code, nothing on stdout, one line on stderr (plus the
    '(see ... --help)' hint of usage errors) that mentions every keyword."""

    def expect_error(self, args, code, *keywords, timeout=60):
        rc, out, err, _ = run(args, timeout=timeout)
        cmd = command(args)
        self.assertGreaterEqual(rc, 0, "%s: killed by signal %d; stderr: %s" % (cmd, -rc, err))
        if code is None:
            self.assertNotEqual(rc, 0, "%s: exit 0; stdout %r" % (cmd, out[:300]))
        else:
            self.assertEqual(rc, code, "%s: exit %d, expected %d; stderr: %s"
                             % (cmd, rc, code, err.strip()))
        self.assertEqual(out, "", "%s: wrote to stdout on error: %r" % (cmd, out[:300]))
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertTrue(lines, "%s: nothing on stderr" % cmd)
        self.assertTrue(lines[0].startswith("lipschitz"), "%s: stderr %r" % (cmd, err))
        extra = [l for l in lines[1:] if "--help" not in l]
        self.assertEqual(extra, [], "%s: more than one line on stderr: %r" % (cmd, err))
        for bad in CRASH_MARKERS:
            self.assertNotIn(bad, err, cmd)
        for k in keywords:
            self.assertIn(k.lower(), lines[0].lower(),
                          "%s: stderr %r does not mention %r" % (cmd, lines[0], k))
        return lines[0]


def expectation(m, variant=None):
    """What the report of a model file should say: the manifest's expectations, and for an ONNX
    file what its export changed (BatchNorms folded into convolutions; circular padding written
    differently from PyTorch's, so the file is not the model and cannot be certified as it)."""
    variant = variant or {}
    miswritten = {name: c for name, c in variant.get("circular_padding", {}).items()
                  if not c["matches_pytorch"]}
    return {"certified": variant.get("certified_expected", m["certified_expected"]),
            "reasons": m["expected_reasons"] + variant.get("expected_reasons", []),
            "unknown_ops": m["unknown_ops"],
            "fused": variant.get("fused_batch_norms", {}),
            "miswritten": miswritten,
            "computes_model": variant.get("computes_model", True)}


class LayerMatching:
    """match_layers for a TestCase."""

    def match_layers(self, m, r, fused):
        """Manifest layer name -> report row; None for a BatchNorm the ONNX exporter folded
        away. Rows are found by name, else as the next unused row of the same class (conv and
        Linear, BatchNorm, average pool) in order."""
        by_name = {row["name"]: row for row in r["layers"]}
        used, rows = set(), {}
        for name, entry in sorted(m["layers"].items(), key=lambda kv: kv[1]["order"]):
            if name in fused:
                rows[name] = None
                continue
            row = by_name.get(name)
            if row is None or row["index"] in used:
                cls = layer_class(entry["type"])
                candidates = [x for x in r["layers"]
                              if row_class(x) == cls and x["index"] not in used]
                row = candidates[0] if candidates else None
            self.assertIsNotNone(row, "%s: no row for %s (%s); rows: %s" % (
                m["model"], name, entry["type"],
                [(x["name"], x["type"], x["kind"]) for x in r["layers"]]))
            used.add(row["index"])
            rows[name] = row
        return rows


# --------------------------------------------------------------------------------------------
# 1. Every model, TorchScript and ONNX
# --------------------------------------------------------------------------------------------

class ModelReportTest(unittest.TestCase, LayerMatching):
    """One test per fixture model (added below the class): its TorchScript report, and the
    report of each ONNX export of it, against the manifest; then the two formats against each
    other."""

    def check_model(self, name):
        m = manifest(name)
        ts = None
        with self.subTest(file=name + ".pt"):
            ts = report(self, name + ".pt")
            self.check_report(m, ts, "torchscript", expectation(m))
        for variant in m["onnx"]:
            r = None
            with self.subTest(file=variant["file"]):
                r = report(self, variant["file"])
                self.check_report(m, r, "onnx", expectation(m, variant))
            if ts is not None and r is not None:
                with self.subTest(file=variant["file"], against=name + ".pt"):
                    self.check_formats_agree(m, ts, r, variant)

    # -- structure ----------------------------------------------------------------------------

    def check_structure(self, m, r, fmt):
        for key in ("model", "format", "input_shape", "input_shape_source", "output_shape",
                    "layers", "network", "warnings", "seconds"):
            self.assertIn(key, r)
        self.assertEqual(r["format"], fmt)
        self.assertEqual(r["input_shape"], m["input_shape"])
        self.assertEqual(r["output_shape"], m["output_shape"])
        self.assertIsInstance(r["input_shape_source"], str)
        if fmt == "torchscript":
            self.assertIn("input-shape", r["input_shape_source"])
        else:
            self.assertNotEqual(r["input_shape_source"], "")
            self.assertNotIn("input-shape", r["input_shape_source"],
                             "ONNX files record their input shape")
        self.assertTrue(set(r["seconds"]) >= {"import", "bounds", "lower_bound", "total"},
                        r["seconds"])
        self.assertTrue(all(isinstance(w, str) for w in r["warnings"]))
        self.assertTrue(r["layers"], "no layers")
        seen = set()
        for row in r["layers"]:
            what = "%s row %r" % (m["model"], row.get("name"))
            self.assertTrue(LAYER_KEYS <= set(row), "%s lacks %s" % (what, LAYER_KEYS - set(row)))
            self.assertIn(row["kind"], KINDS, what)
            self.assertIsInstance(row["index"], int, what)
            self.assertNotIn(row["index"], seen, what)
            for i in row["inputs"]:
                self.assertIsInstance(i, int, what)
                self.assertLess(i, row["index"], "%s: inputs are earlier layers" % what)
            seen.add(row["index"])
            if row["spectral_norm"] is None:
                self.assertIsNone(row["exact"], what)
            else:
                self.assertLessEqual(row["lower_bound"], row["spectral_norm"], what)
                self.assertLessEqual(row["spectral_norm"], row["upper_bound"], what)
            if row["lipschitz_factor"] is not None:
                self.assertGreaterEqual(row["lipschitz_factor"], 0, what)
        self.assertEqual(r["layers"][0]["input_shape"], m["input_shape"])
        self.assertTrue(NETWORK_KEYS <= set(r["network"]), r["network"])

    # -- layers -------------------------------------------------------------------------------

    def check_layers(self, m, r, expect):
        rows = self.match_layers(m, r, expect["fused"])
        folded_into = {f["into"]: f for f in expect["fused"].values()}
        n_weighted = sum(1 for e in m["layers"].values() if e["type"] in WEIGHTED_TYPES)
        self.assertEqual(len(weighted_rows(r)), n_weighted,
                         "%s: conv/Linear rows %s" % (m["model"],
                                                      [x["name"] for x in weighted_rows(r)]))
        for name, entry in m["layers"].items():
            row = rows[name]
            if row is None:
                continue
            what = "%s %s (row %r, %s)" % (m["model"], name, row["name"], row["method"])
            # The module's own input: for padding_mode='circular' the unpadded map (the layer is
            # the convolution on the torus of that size), whether the model pads first
            # (TorchScript: aten::pad; ONNX: Slice/Concat) or not.
            # (An ONNX file whose circular padding is not PyTorch's holds a 'valid' convolution
            # on the padded map instead.)
            input_shape, sigma = entry["input_shape"], entry["sigma1"]
            reshaped = entry["reshaped_weight_norm"]
            if name in expect["miswritten"]:
                input_shape = expect["miswritten"][name]["padded_input_shape"]
                sigma = expect["miswritten"][name]["sigma1_as_written"]
            self.assertEqual(row["input_shape"], input_shape, what)
            self.assertEqual(row["output_shape"], entry["output_shape"], what)
            if name in folded_into:  # the ONNX exporter folded a BatchNorm into this conv
                sigma = folded_into[name]["sigma1"]
                reshaped = folded_into[name]["reshaped_weight_norm"]
            what += ": dense sigma_1 %.17g, report %r in [%r, %r]" % (
                sigma, row["spectral_norm"], row["lower_bound"], row["upper_bound"])
            self.assertIsNotNone(row["spectral_norm"], what)
            if row["exact"]:
                self.assertLessEqual(abs(row["spectral_norm"] - sigma), kExactRelTol * sigma, what)
            self.assertLessEqual(row["lower_bound"], sigma * (1 + kBoundRelSlack), what)
            self.assertGreaterEqual(row["upper_bound"], sigma * (1 - kBoundRelSlack), what)
            if reshaped is not None:
                self.assertIsNotNone(row["reshaped_weight_norm"], what)
                self.assertLessEqual(abs(row["reshaped_weight_norm"] - reshaped),
                                     kReshapedRelTol * reshaped,
                                     "%s; reshaped %.17g vs %r" % (what, reshaped,
                                                                   row["reshaped_weight_norm"]))
            if "follows" in entry:
                self.check_folding(m, name, entry, row, rows[entry["follows"]])
            elif expect["certified"] and row["lipschitz_factor"] != 1:
                # A layer that is not folded contributes at least its own norm.
                self.assertIsNotNone(row["lipschitz_factor"], what)
                self.assertGreaterEqual(row["lipschitz_factor"],
                                        sigma * (1 - kBoundRelSlack), what)

    def check_folding(self, m, bn_name, entry, bn_row, prev_row):
        """A BatchNorm right after a Conv/Linear: its factor is ‖bn∘conv‖ (which replaces the
        conv's from the conv's input on), at least the dense value and at most the conv's upper
        bound times the BatchNorm's norm; the conv keeps its own factor, its norm; and the
        BatchNorm's cumulative bound is the conv's input's times the pair's."""
        what = "%s: %s after %s: factors %r, %r; dense ||bn o conv|| %.17g" % (
            m["model"], bn_name, entry["follows"], prev_row["lipschitz_factor"],
            bn_row["lipschitz_factor"], entry["combined_sigma1"])
        self.assertIsNotNone(bn_row["lipschitz_factor"], what)
        self.assertIsNotNone(prev_row["lipschitz_factor"], what)
        self.assertEqual(prev_row["lipschitz_factor"], prev_row["upper_bound"], what)
        pair = bn_row["lipschitz_factor"]
        self.assertGreaterEqual(pair, entry["combined_sigma1"] * (1 - kBoundRelSlack), what)
        self.assertLessEqual(pair, prev_row["upper_bound"] * bn_row["upper_bound"] *
                             (1 + kFoldSlack), what)
        before = prev_row["cumulative_bound"] / prev_row["lipschitz_factor"]
        self.assertLessEqual(abs(bn_row["cumulative_bound"] - before * pair),
                             1e-12 * bn_row["cumulative_bound"], what)

    # -- the network --------------------------------------------------------------------------

    def check_network(self, m, r, fmt, expect):
        n = r["network"]
        what = "%s: network %r" % (m["model"], n)
        self.assertEqual(n["certified"], expect["certified"], what)
        self.assertIsInstance(n["reasons"], list, what)
        self.assertIsInstance(n["lower_bound_method"], str, what)
        if fmt == "onnx" and any(x["kind"] == "unknown" for x in r["layers"]):
            # The report runs an ONNX model through its own layers: not through unknown ones.
            self.assertTrue(n["lower_bound"] is None or n["lower_bound"] >= 0, what)
        else:
            self.assertGreater(n["lower_bound"], 0, what)
        if n["certified"]:
            self.assertIsNotNone(n["upper_bound"], what)
            self.assertGreaterEqual(n["upper_bound"],
                                    m["network_lower_bound"] * (1 - kBoundRelSlack),
                                    "%s; PyTorch's gradients reach %.17g" % (
                                        what, m["network_lower_bound"]))
            self.assertGreaterEqual(n["upper_bound"], n["lower_bound"], what)
            self.assertIsNotNone(n["ratio"], what)
            self.assertAlmostEqual(n["ratio"] / (n["upper_bound"] / n["lower_bound"]), 1,
                                   delta=1e-9, msg=what)
            # The last layer's cumulative bound is the network's.
            last = r["layers"][-1]["cumulative_bound"]
            if last is not None:
                self.assertLessEqual(n["upper_bound"], last * (1 + 1e-12), what)
        else:
            self.assertTrue(n["reasons"], what)
            reasons = normalized(" ".join(n["reasons"]))
            for word in expect["reasons"]:
                self.assertIn(normalized(word), reasons, what)
            for op in expect["unknown_ops"]:
                self.assertIn(normalized(op), reasons, what)
                self.assertTrue(any(op in normalized(x["type"] + " " + x["note"] + " " + x["name"])
                                    for x in r["layers"] if x["kind"] == "unknown"),
                                "%s: no unknown row for %s" % (what, op))
        if "network_sigma1_dense" in m and expect["computes_model"]:
            # A purely linear network: its norm is known.
            truth = m["network_sigma1_dense"]
            self.assertLessEqual(n["lower_bound"], truth * (1 + kBoundRelSlack), what)
            self.assertLessEqual(truth, n["upper_bound"] * (1 + kBoundRelSlack), what)
            self.assertGreaterEqual(n["lower_bound"], truth * (1 - kLinearLowerRelTol), what)

    def check_report(self, m, r, fmt, expect):
        self.check_structure(m, r, fmt)
        self.check_layers(m, r, expect)
        self.check_network(m, r, fmt, expect)

    # -- TorchScript against ONNX -------------------------------------------------------------

    def check_formats_agree(self, m, ts, ox, variant):
        what = "%s: %s against %s" % (m["model"], variant["file"], m["torchscript"]["file"])
        a, b = weighted_rows(ts), weighted_rows(ox)
        self.assertEqual(len(a), len(b), what)
        folded = {f["into"] for f in variant["fused_batch_norms"].values()}
        folded |= {name for name, c in variant.get("circular_padding", {}).items()
                   if not c["matches_pytorch"]}  # another operator: compared with its own σ₁
        by_name_b = {x["name"]: x for x in b}
        pairs = ([(x, by_name_b[x["name"]]) for x in a]
                 if all(x["name"] in by_name_b for x in a) else list(zip(a, b)))
        for x, y in pairs:
            if x["name"] in folded:
                continue
            self.assertLessEqual(abs(x["spectral_norm"] - y["spectral_norm"]),
                                 kFormatsRelTol * max(x["spectral_norm"], y["spectral_norm"]),
                                 "%s: %s %r, %s %r" % (what, x["name"], x["spectral_norm"],
                                                       y["name"], y["spectral_norm"]))
        if not variant.get("computes_model", True):
            return  # the ONNX file is not the model: nothing to compare the bounds with
        u, v = ts["network"]["upper_bound"], ox["network"]["upper_bound"]
        self.assertEqual(u is None, v is None, what)
        if u is None:
            return
        if folded:
            # ONNX holds the folded convolution itself, whose norm is at most the report's
            # bound on ‖bn∘conv‖ from the TorchScript model.
            self.assertLessEqual(v, u * (1 + kFormatsRelTol), "%s: %r, %r" % (what, u, v))
        else:
            self.assertLessEqual(abs(u - v), kFormatsRelTol * max(u, v),
                                 "%s: %r, %r" % (what, u, v))


for _name in MODELS:
    setattr(ModelReportTest, "test_" + _name,
            lambda self, name=_name: self.check_model(name))


class KindsTest(unittest.TestCase):
    """The graph each importer reads: residual sums, max pooling, LayerNorm, activations."""

    def kinds(self, r):
        out = {}
        for row in r["layers"]:
            out[row["kind"]] = out.get(row["kind"], 0) + 1
        return out

    def test_kinds(self):
        want = {"resnet_critic": {"add": 2, "conv": 8},
                "bn_critic": {"max_pool": 1, "batch_norm": 3},
                "layernorm_critic": {"layer_norm": 1, "activation": 3},
                "dcgan_critic": {"activation": 3, "conv": 4},
                "unknown_op": {"unknown": 1}}
        for name, counts in want.items():
            for file_name in (name + ".pt", name + ".onnx"):
                if name == "bn_critic" and file_name.endswith(".onnx"):
                    file_name = "bn_critic_unfused.onnx"
                with self.subTest(file=file_name):
                    kinds = self.kinds(report(self, file_name))
                    for kind, count in counts.items():
                        self.assertEqual(kinds.get(kind, 0), count, "%s: %s" % (file_name, kinds))

    def test_residual_inputs(self):
        for file_name in ("resnet_critic.pt", "resnet_critic.onnx"):
            r = report(self, file_name)
            by_index = {row["index"]: row for row in r["layers"]}
            for row in (x for x in r["layers"] if x["kind"] == "add"):
                self.assertEqual(len(row["inputs"]), 2, row)
                for i in row["inputs"]:
                    if i in by_index:
                        self.assertEqual(by_index[i]["output_shape"], row["output_shape"], row)


# --------------------------------------------------------------------------------------------
# 2. Output formats and --output
# --------------------------------------------------------------------------------------------

class FormatTest(unittest.TestCase):
    FILE = "dcgan_critic.pt"

    def output(self, *flags):
        args = model_args(self.FILE) + ["--threads", "1"] + list(flags)
        rc, out, err, _ = run(args)
        self.assertEqual(rc, 0, "%s: exit %d; stderr: %s" % (command(args), rc, err.strip()))
        return out

    def test_markdown(self):
        lines = self.output("--markdown").splitlines()
        self.assertTrue(any(l.startswith("|") for l in lines), lines)
        self.assertTrue(any(re.match(r"\|\s*:?---", l) for l in lines), lines)
        r = report(self, self.FILE)
        for row in weighted_rows(r):
            self.assertTrue(any(row["name"] in l for l in lines if l.startswith("|")), row["name"])

    def test_csv(self):
        r = report(self, self.FILE)
        rows = list(csv.DictReader(io.StringIO(self.output("--csv"))))
        self.assertTrue(rows)
        self.assertTrue(CSV_COLUMNS <= set(rows[0]), sorted(rows[0]))
        if rows[-1]["name"] == "network":
            rows = rows[:-1]
        self.assertEqual([x["name"] for x in rows], [x["name"] for x in r["layers"]])
        for x, y in zip(rows, r["layers"]):
            self.assertEqual(x["type"], y["type"])
            if y["spectral_norm"] is not None:
                self.assertAlmostEqual(float(x["spectral_norm"]) / y["spectral_norm"], 1,
                                       delta=1e-9, msg=x)
            else:
                self.assertEqual(x["spectral_norm"], "", x)

    def test_default_table(self):
        text = self.output()
        self.assertIn("certified", text.lower())
        bound = report(self, self.FILE)["network"]["upper_bound"]
        numbers = [float(s) for s in re.findall(r"\d+\.\d+(?:e[-+]?\d+)?", text)]
        self.assertTrue(any(abs(x - bound) <= 1e-5 * bound for x in numbers),
                        "the network bound %r is not in the table:\n%s" % (bound, text))
        for row in weighted_rows(report(self, self.FILE)):
            self.assertIn(row["name"], text)

    def test_output_file(self):
        d = os.path.join(TMP, "output")
        os.makedirs(d, exist_ok=True)
        for flag in ("--json", "--csv", "--markdown"):
            with self.subTest(flag=flag):
                path = os.path.join(d, "report" + flag.replace("--", "."))
                for attempt in range(2):  # the second one replaces the file
                    args = model_args(self.FILE) + ["--threads", "1", flag, "--output", path]
                    rc, out, err, _ = run(args)
                    self.assertEqual(rc, 0, "%s: %s" % (command(args), err))
                    self.assertEqual(out, "", "--output writes to the file only")
                with open(path) as f:
                    written = f.read()
                stdout = self.output(flag)
                if flag == "--json":
                    self.assertEqual(without_times(json.loads(written)),
                                     without_times(json.loads(stdout)))
                else:  # timings differ; the structure does not
                    self.assertEqual(len(written.splitlines()), len(stdout.splitlines()))
                    self.assertEqual(written.splitlines()[0], stdout.splitlines()[0])
        self.assertEqual(sorted(os.listdir(d)), ["report.csv", "report.json", "report.markdown"],
                         "temporary files left beside the report")

    def test_output_into_missing_directory(self):
        path = os.path.join(TMP, "no_such_dir", "report.json")
        rc, out, err, _ = run(model_args(self.FILE) + ["--json", "--output", path])
        self.assertNotEqual(rc, 0)
        self.assertIn(os.path.dirname(path), err)
        for bad in CRASH_MARKERS:
            self.assertNotIn(bad, err)


# --------------------------------------------------------------------------------------------
# 3. --data, --seed, --tolerance, shapes
# --------------------------------------------------------------------------------------------

def smooth_images(n, shape, seed, dtype):
    """Images that look like images: a few random low-frequency waves per channel, in [-1, 1]."""
    rng = np.random.default_rng(seed)
    c, h, w = shape
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    out = np.zeros((n, c, h, w))
    for k in range(4):
        fy, fx = rng.uniform(0, 3, (2, n, c, 1, 1))
        phase = rng.uniform(0, 2 * np.pi, (n, c, 1, 1))
        out += rng.normal(0, 1, (n, c, 1, 1)) * np.cos(2 * np.pi * (fy * y + fx * x) + phase)
    out = np.tanh(0.5 * out + 0.05 * rng.normal(size=out.shape))
    return out.astype(dtype)


class DataTest(unittest.TestCase, ErrorChecks, LayerMatching):

    def test_data(self):
        m = manifest("dcgan_critic")
        for dtype in (np.float32, np.float64):
            with self.subTest(dtype=dtype.__name__):
                path = os.path.join(TMP, "images_%s.npy" % dtype.__name__)
                np.save(path, smooth_images(24, m["input_shape"], 5, dtype))
                for file_name in ("dcgan_critic.pt", "dcgan_critic.onnx"):
                    r = report(self, file_name, "--data", path)
                    n = r["network"]
                    self.assertTrue(n["certified"])
                    self.assertGreater(n["lower_bound"], 0)
                    self.assertLessEqual(n["lower_bound"], n["upper_bound"])
                    # The layer norms do not depend on the data.
                    plain = report(self, file_name)
                    self.assertEqual([x["spectral_norm"] for x in r["layers"]],
                                     [x["spectral_norm"] for x in plain["layers"]])

    def test_data_wrong_shape(self):
        path = os.path.join(TMP, "wrong_shape.npy")
        np.save(path, np.zeros((4, 3, 16, 16), np.float32))
        self.expect_error(model_args("dcgan_critic.pt") + ["--data", path], None, path)
        self.expect_error(model_args("dcgan_critic.onnx") + ["--data", path], None, path)

    def test_data_not_npy(self):
        path = os.path.join(TMP, "not_npy.npy")
        with open(path, "w") as f:
            f.write("these are not samples\n")
        self.expect_error(model_args("dcgan_critic.pt") + ["--data", path], None, path)

    def test_seed_repeats(self):
        a = report(self, "conv1d_net.pt", "--seed", 3, "--samples", 8)
        rc, out, err, _ = run(model_args("conv1d_net.pt") +
                              ["--json", "--threads", "1", "--seed", 3, "--samples", 8])
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["network"]["lower_bound"], a["network"]["lower_bound"])

    def test_loose_tolerance_still_certified(self):
        m = manifest("geometry_net")
        r = report(self, "geometry_net.pt", "--tolerance", "0.05")
        rows = self.match_layers(m, r, {})
        for name, entry in m["layers"].items():
            row = rows[name]
            self.assertLessEqual(row["lower_bound"], entry["sigma1"] * (1 + kBoundRelSlack), name)
            self.assertGreaterEqual(row["upper_bound"], entry["sigma1"] * (1 - kBoundRelSlack),
                                    name)
        self.assertGreaterEqual(r["network"]["upper_bound"],
                                m["network_lower_bound"] * (1 - kBoundRelSlack))

    def test_torchscript_without_input_shape(self):
        # TorchScript does not record the input size: the report either infers it (and then
        # says so) or asks for --input-shape.
        args = ["report", fixture("dcgan_critic.pt"), "--json", "--threads", "1"]
        rc, out, err, _ = run(args)
        if rc == 0:
            r = json.loads(out)
            self.assertEqual(r["input_shape"], manifest("dcgan_critic")["input_shape"])
            self.assertIn("infer", r["input_shape_source"])
        else:
            self.expect_error(args, rc, "input-shape")


# --------------------------------------------------------------------------------------------
# 4. Errors
# --------------------------------------------------------------------------------------------

class ErrorTest(unittest.TestCase, ErrorChecks):

    def write(self, name, content):
        path = os.path.join(TMP, name)
        with open(path, "wb") as f:
            f.write(content)
        return path

    def head_of(self, fixture_name, name):
        with open(fixture(fixture_name), "rb") as f:
            content = f.read()
        return self.write(name, content[:len(content) // 2])

    def test_missing_file(self):
        path = os.path.join(TMP, "no_such_model.pt")
        self.expect_error(["report", path, "--input-shape", "3x32x32"], None, path)
        path = os.path.join(TMP, "no_such_model.onnx")
        self.expect_error(["report", path], None, path)

    def test_empty_file(self):
        for name in ("empty.pt", "empty.onnx"):
            path = self.write(name, b"")
            self.expect_error(["report", path, "--input-shape", "3x32x32"], None, path)

    def test_truncated_torchscript(self):
        path = self.head_of("dcgan_critic.pt", "truncated.pt")
        self.expect_error(["report", path, "--input-shape", "3x32x32"], None, path)

    def test_truncated_onnx(self):
        path = self.head_of("dcgan_critic.onnx", "truncated.onnx")
        self.expect_error(["report", path], None, path)

    def test_garbage(self):
        rng = np.random.default_rng(9)
        for name in ("garbage.pt", "garbage.onnx", "garbage.bin"):
            path = self.write(name, rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
            self.expect_error(["report", path, "--input-shape", "3x32x32"], None, path)

    def test_zip_that_is_not_a_model(self):
        path = os.path.join(TMP, "not_a_model.pt")
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("notes/readme.txt", "hello, this is not a model\n")
        self.expect_error(["report", path, "--input-shape", "3x32x32"], None, path)

    def test_wrong_channel_count(self):
        self.expect_error(["report", fixture("dcgan_critic.pt"), "--input-shape", "4x32x32"],
                          None, "shape")
        self.expect_error(["report", fixture("dcgan_critic.onnx"), "--input-shape", "4x32x32"],
                          None, "shape")

    def test_bad_input_shape_text(self):
        for text in ("abc", "3x", "3x-2x4", "0x32x32"):
            with self.subTest(text=text):
                self.expect_error(["report", fixture("dcgan_critic.pt"), "--input-shape", text],
                                  None, "shape")
        self.expect_error(["report", fixture("dcgan_critic.pt"), "--input-shape", "abc"],
                          None, "abc")

    def test_unknown_flag(self):
        self.expect_error(model_args("dcgan_critic.pt") + ["--bogus"], 2, "bogus")

    def test_two_formats(self):
        self.expect_error(model_args("dcgan_critic.pt") + ["--json", "--csv"], 2)

    def test_bad_numbers(self):
        for flag, value in (("--tolerance", "abc"), ("--tolerance", "2"), ("--threads", "-1"),
                            ("--samples", "x")):
            with self.subTest(flag=flag, value=value):
                self.expect_error(model_args("dcgan_critic.pt") + [flag + "=" + value],
                                  2, flag[2:])


# --------------------------------------------------------------------------------------------
# 5. A `lipschitz train` checkpoint
# --------------------------------------------------------------------------------------------

class CheckpointTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = os.path.join(TMP, "train_run")
        cls.args = ["train", "--out", cls.dir, "--steps", 20, "--data", "8gaussians",
                    "--width", 16, "--depth", 2, "--batch-size", 32, "--threads", 1,
                    "--monitor-every", 0, "--progress", "none"]
        cls.rc, _, cls.err, _ = run(cls.args)

    def setUp(self):
        self.assertEqual(self.rc, 0, "%s: exit %d; stderr: %s" % (command(self.args), self.rc,
                                                                 self.err.strip()))
        self.path = os.path.join(self.dir, "checkpoint.pt")

    def test_report(self):
        args = ["report", self.path, "--json", "--threads", "1"]
        rc, out, err, _ = run(args)
        self.assertEqual(rc, 0, "%s: %s" % (command(args), err))
        r = json.loads(out)
        self.assertEqual(r["format"], "checkpoint")
        self.assertEqual(r["input_shape"], [2])
        self.assertIn(r["output_shape"], ([], [1]))  # the critic's output is one number
        n = r["network"]
        self.assertTrue(n["certified"], n)
        self.assertGreater(n["lower_bound"], 0)
        self.assertLessEqual(n["lower_bound"], n["upper_bound"])
        rows = weighted_rows(r)
        self.assertEqual(len(rows), 3, [x["name"] for x in rows])  # depth 2: fc1, fc2, fc3
        self.assertTrue(all(x["type"] == "Linear" for x in rows), rows)
        if torch is None:
            return
        try:
            m = torch.jit.load(self.path, map_location="cpu")
            params = dict(m.named_parameters())
        except Exception as e:  # noqa: BLE001 - test_gan_cli.py tests reading checkpoints
            self.skipTest("torch.jit.load cannot read the checkpoint: %s" % e)
        for row in rows:
            key = "critic.%s.weight" % re.sub(r"^critic\.", "", row["name"])
            self.assertIn(key, params, sorted(params))
            w = params[key].detach().double()
            want = float(torch.linalg.matrix_norm(w, 2))
            what = "%s: report %r, torch %.17g" % (row["name"], row["spectral_norm"], want)
            self.assertLessEqual(abs(row["spectral_norm"] - want), 1e-6 * want, what)
            self.assertLessEqual(row["lower_bound"], want * (1 + 1e-12), what)
            self.assertGreaterEqual(row["upper_bound"], want * (1 - 1e-12), what)
            self.assertEqual(row["input_shape"], [w.shape[1]], what)
            self.assertEqual(row["output_shape"], [w.shape[0]], what)

    def test_run_directory_is_not_a_file(self):
        # The checkpoint file is the model; a run directory alone names what to pass.
        rc, out, err, _ = run(["report", self.dir, "--json"])
        if rc != 0:
            self.assertIn(self.dir, err)
            for bad in CRASH_MARKERS:
                self.assertNotIn(bad, err)


class SoundnessTest(unittest.TestCase):
    """Models built to trip a bound: each must be certified with an upper bound at least the
    truth (worked out by hand in the comment), or be reported as not certified, or be refused.
    Never a certified bound below the truth."""

    def export(self, name, module, shape):
        path = os.path.join(TMP, name + ".pt")
        module.eval()
        with torch.no_grad():
            torch.jit.trace(module, torch.randn(2, *shape)).save(path)
        return path

    def check(self, name, module, shape, truth, samples=16, extra=()):
        path = self.export(name, module, shape)
        args = ["report", path, "--input-shape", shape_arg(shape), "--json", "--threads", "1",
                "--samples", str(samples), "--ascent-steps", "5"] + list(extra)
        rc, out, err, _ = run(args)
        self.assertEqual(rc, 0, "%s: %s" % (command(args), err))
        n = json.loads(out)["network"]
        what = "%s: %r (truth %g)" % (name, n, truth)
        if n["certified"]:
            self.assertGreaterEqual(n["upper_bound"], truth * (1 - kBoundRelSlack), what)
        if n["lower_bound"] is not None:
            self.assertLessEqual(n["lower_bound"], truth * (1 + 1e-4), what)
        return n

    def refused(self, name, module, shape, message):
        """The report refuses the model: exit 1, `message` on stderr, nothing on stdout."""
        path = self.export(name, module, shape)
        rc, out, err, _ = run(["report", path, "--input-shape", shape_arg(shape), "--json"])
        self.assertEqual(rc, 1, err)
        self.assertIn(message, err)
        self.assertEqual(out, "")

    @unittest.skipIf(torch is None, "needs torch")
    def test_small_slope_under_a_large_bias(self):
        # Linear with weights of ~1e-12 and biases of ~0.3: the exact norm is σ₁(W). The
        # secant that confirms the empirical lower bound used to lose the difference in
        # rounding and report a "lower bound" 35 % above the norm.
        torch.manual_seed(0)
        m = torch.nn.Linear(8, 5)  # PyTorch's default biases, |b| ≤ 0.35
        with torch.no_grad():
            m.weight.mul_(1e-12)
        truth = float(torch.linalg.svdvals(m.weight.double())[0])
        n = self.check("small_slope", m, (8,), truth, samples=8)  # lower ≤ truth checked there
        self.assertTrue(n["certified"], n)
        self.assertGreater(n["lower_bound"], 0.5 * truth, n)  # resolved, not given up

    @unittest.skipIf(torch is None, "needs torch")
    def test_infinite_weights_are_named(self):
        # A float32 model whose weights overflowed to inf used to be refused with a message
        # about in-place updates ("max difference -nan").
        m = torch.nn.Linear(8, 5)
        with torch.no_grad():
            m.weight[0, 0] = float("inf")
        self.refused("inf_weight", m, (8,), "not finite")

    @unittest.skipIf(torch is None, "needs torch")
    def test_large_gain_lower_bound(self):
        # Weights of ~1e10: the float32 norms inside the Jacobian power iteration overflowed,
        # and the empirical lower bound came out 0 ("not confirmed").
        torch.manual_seed(0)
        m = torch.nn.Linear(8, 5)
        with torch.no_grad():
            m.weight.mul_(1e10)
        truth = float(torch.linalg.svdvals(m.weight.double())[0])
        n = self.check("large_gain", m, (8,), truth)
        self.assertGreater(n["lower_bound"], 0.5 * truth, n)
        self.assertIn("confirmed by a float64 secant", n["lower_bound_method"], n)

    @unittest.skipIf(torch is None, "needs torch")
    def test_traced_padding_same(self):
        # Tracing records Conv2d(padding='same') as aten::_convolution_mode. Odd effective
        # kernels pad symmetrically and are bounded (the layer is linear: its norm is the
        # Jacobian's σ₁); even ones would need asymmetric padding and are not certified.
        torch.manual_seed(0)
        odd = torch.nn.Conv2d(2, 3, 3, padding="same", dilation=2, bias=False)
        x = torch.randn(1, 2, 5, 5, dtype=torch.float64)
        jac = torch.autograd.functional.jacobian(lambda t: odd.double()(t).reshape(-1), x)
        truth = float(torch.linalg.svdvals(jac.reshape(jac.shape[0], -1))[0])
        n = self.check("same_odd", odd.float(), (2, 5, 5), truth)
        self.assertTrue(n["certified"], n)
        self.assertLessEqual(n["upper_bound"], truth * (1 + 1e-6), n)
        even = torch.nn.Conv2d(2, 3, 4, padding="same")
        self.assertFalse(self.check("same_even", even, (2, 5, 5), 1e9)["certified"])

    @unittest.skipIf(torch is None, "needs torch")
    def test_float_precision_at_extreme_scales(self):
        # --float rounds the weights to float after scaling them: layers whose norms lie far
        # outside float's comfortable range are still bounded (they came out 1e4–1e5 too low).
        for scale, name in ((1e10, "lin_big"), (1e-15, "lin_small")):
            torch.manual_seed(0)
            m = torch.nn.Linear(8, 5)
            with torch.no_grad():
                m.weight.mul_(scale)
            truth = float(torch.linalg.svdvals(m.weight.double())[0])
            n = self.check(name, m, (8,), truth, extra=["--float", "--no-lower-bound"])
            self.assertTrue(n["certified"], "%s: %r" % (name, n))
            self.assertGreaterEqual(n["upper_bound"], truth * (1 - 1e-6), "%s: %r" % (name, n))
            self.assertLessEqual(n["upper_bound"], truth * 1.01, "%s: %r" % (name, n))

    @unittest.skipIf(torch is None, "needs torch")
    def test_second_output_of_an_op(self):
        class M(torch.nn.Module):  # x + 10·mean(x) over 4 features: I + (10/4)·11ᵀ, norm 11
            def forward(self, x):
                sd, mu = torch.std_mean(x, 1, keepdim=True)
                return x + 10 * mu
        self.assertFalse(self.check("std_mean", M(), (4,), 11.0)["certified"])

    @unittest.skipIf(torch is None, "needs torch")
    def test_write_into_a_constant_is_refused(self):
        class M(torch.nn.Module):  # truth 1 + 3·2 (sum of 4 copies of 3x, norm 3·√4)
            def forward(self, x):
                h = torch.zeros(x.size(0), 8)
                h[:, :4] = 3 * x
                return x + h.sum(1, keepdim=True)
        self.refused("write_into_constant", M(), (4,), "in-place write")

    @unittest.skipIf(torch is None, "needs torch")
    def test_rsub_of_two_network_values(self):
        class M(torch.nn.Module):  # rsub(x, 3x) = 3x − x = 2x
            def forward(self, x):
                return torch.rsub(x, 3 * x)
        self.check("rsub", M(), (4,), 2.0)

    @unittest.skipIf(torch is None, "needs torch")
    def test_broadcast_that_copies_the_input(self):
        class M(torch.nn.Module):  # (1,4,4) · ones(3,4,4): three copies, norm √3
            def __init__(self):
                super().__init__()
                self.register_buffer("c", torch.ones(3, 4, 4))
            def forward(self, x):
                return x * self.c
        self.check("broadcast", M(), (1, 4, 4), 3 ** 0.5)

    @unittest.skipIf(torch is None, "needs torch")
    def test_batchnorm_after_linear_on_channels(self):
        m = torch.nn.Sequential(torch.nn.Linear(3, 3, bias=False), torch.nn.BatchNorm1d(3))
        with torch.no_grad():
            m[0].weight.fill_(1 / 3)  # rank one, norm 1
            m[1].weight.copy_(torch.tensor([10.0, 0.1, 0.1]))
        # On (N, 3, 3) BatchNorm1d scales the 3 channels: channel 0's rows by 10/√(1+ε), so
        # about 10 (not the 5.8 of folding the scales over the Linear's outputs).
        truth = float(10 / (1 + 1e-5) ** 0.5 * torch.linalg.matrix_norm(m[0].weight.double(), 2))
        self.assertTrue(self.check("linear_bn_channels", m, (3, 3), truth)["certified"])

    @unittest.skipIf(torch is None, "needs torch")
    def test_elu_with_negative_alpha(self):
        self.check("elu_negative", torch.nn.ELU(alpha=-2.0), (4,), 2.0)

    @unittest.skipIf(torch is None, "needs torch")
    def test_softplus_that_jumps(self):
        n = self.check("softplus_jump", torch.nn.Softplus(beta=2.0, threshold=1.0), (4,), 1.0)
        self.assertFalse(n["certified"], n)
        self.assertTrue(any("jumps" in r for r in n["reasons"]), n)

    @unittest.skipIf(torch is None, "needs torch")
    def test_avgpool1d(self):
        m = torch.nn.Sequential(torch.nn.AvgPool1d(2), torch.nn.Flatten())
        # Disjoint windows of 2 averaged: each row (1/2, 1/2), norm 1/√2.
        n = self.check("avgpool1d", m, (2, 8), 2 ** -0.5)
        self.assertTrue(n["certified"], n)
        self.assertLessEqual(abs(n["upper_bound"] - 2 ** -0.5), 1e-6, n)

    @unittest.skipIf(torch is None, "needs torch")
    def test_batch_coupled_model_has_no_lower_bound(self):
        m = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
        m.train()
        path = os.path.join(TMP, "bn_train.pt")
        torch.jit.trace(m, torch.randn(8, 4)).save(path)
        rc, out, err, _ = run(["report", path, "--input-shape", "4", "--json"])
        self.assertEqual(rc, 0, err)
        r = json.loads(out)
        self.assertFalse(r["network"]["certified"], r["network"])
        self.assertIsNone(r["network"]["lower_bound"], r["network"])
        self.assertTrue(any("batch" in w for w in r["warnings"]), r["warnings"])


if __name__ == "__main__":
    unittest.main()
