"""lipschitz.conv_norm / conv_spectrum against dense SVDs and the CLI; zero copy; the GIL; errors.

Run from CTest (PYTHONPATH=build/python, LIPSCHITZ_CLI=build/bin/lipschitz)."""
import json
import os
import subprocess
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lipschitz

# Named tolerances: relative, on sigma_1 and on whole spectra.
TOL = {np.float64: 1e-9, np.float32: 2e-5}


def dense_operator(w, n, stride, padding, dilation, groups, circular, transposed=False):
    """The layer as a dense matrix: apply it to every basis vector with torch (float64)."""
    w = torch.as_tensor(np.asarray(w, dtype=np.float64))
    nd = w.dim() - 2
    c_in = w.shape[0] if transposed else w.shape[1] * groups
    size = (n,) * nd
    basis = torch.eye(c_in * n ** nd, dtype=torch.float64).reshape(-1, c_in, *size)
    if circular:
        k_eff = [(k - 1) * dilation + 1 for k in w.shape[2:]]
        pad = sum(((0, k - 1) for k in reversed(k_eff)), ())
        x = F.pad(basis, pad, mode="circular")
        conv = F.conv1d if nd == 1 else F.conv2d
        out = conv(x, w, stride=stride, dilation=dilation, groups=groups)
    elif transposed:
        conv = F.conv_transpose1d if nd == 1 else F.conv_transpose2d
        out = conv(basis, w, stride=stride, padding=padding, dilation=dilation, groups=groups)
    else:
        conv = F.conv1d if nd == 1 else F.conv2d
        out = conv(basis, w, stride=stride, padding=padding, dilation=dilation, groups=groups)
    return out.reshape(basis.shape[0], -1).T.numpy()


LAYERS = [  # (weight shape, n, stride, padding, dilation, groups, padding_mode, transposed)
    ((4, 3, 3, 3), 6, 1, 1, 1, 1, "zeros", False),
    ((4, 3, 3, 3), 6, 2, 1, 1, 1, "circular", False),
    ((6, 2, 3, 3), 6, 1, 0, 2, 2, "circular", False),
    ((5, 3, 4, 4), 8, 2, 1, 1, 1, "zeros", False),
    ((3, 4, 4, 4), 4, 2, 1, 1, 1, "zeros", True),
    ((4, 2, 5), 9, 1, 2, 1, 1, "zeros", False),
    ((4, 2, 3), 8, 2, 0, 1, 1, "circular", False),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layer", LAYERS)
def test_against_dense_svd(layer, dtype):
    shape, n, s, p, d, g, mode, transposed = layer
    w = np.random.default_rng(7).normal(size=shape).astype(dtype)
    A = dense_operator(w, n, s, p, d, g, mode == "circular", transposed)
    sv = np.linalg.svd(A, compute_uv=False)
    precision = "double" if dtype == np.float64 else "float"
    # Double: an interval narrower than the check. Float: the interval's width is float's
    # worst-case rounding margin, which need not be within the tolerance (exact may be false).
    r = lipschitz.conv_norm(w, n, stride=s, padding=p, dilation=d, groups=g, padding_mode=mode,
                            transposed=transposed, precision=precision,
                            tolerance=1e-11 if dtype == np.float64 else 1e-6)
    tol = TOL[dtype] * sv[0]
    assert r.lower - tol <= sv[0] <= r.upper + tol, (r, sv[0])
    assert r.exact or dtype == np.float32
    assert abs(r.spectral_norm - sv[0]) <= max(tol, r.upper - r.lower)
    spectrum = lipschitz.conv_spectrum(w, n, stride=s, padding=p, dilation=d, groups=g,
                                       padding_mode=mode, transposed=transposed,
                                       precision=precision)
    nonzero = sv[: spectrum.size] if spectrum.size <= sv.size else np.pad(sv, (0, spectrum.size - sv.size))
    assert np.max(np.abs(spectrum - nonzero)) <= tol


def cli(*args):
    out = subprocess.run([os.environ["LIPSCHITZ_CLI"], "conv", *args, "--json"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


@pytest.mark.parametrize("precision", ["double", "float"])
def test_equals_cli_json(tmp_path, precision):
    """The same object as the CLI's, timing aside. One thread on both sides: with more, how many
    frequency blocks are settled before the best lower bound is found depends on scheduling."""
    w = np.random.default_rng(3).normal(0, 0.02, size=(16, 8, 4, 4)).astype(np.float32)
    np.save(tmp_path / "w.npy", w)
    path = str(tmp_path / "w.npy")
    for mode in ("zeros", "circular"):
        flags = ["--weight", path, "--input", "16", "--stride", "2", "--padding", "1",
                 "--padding-mode", mode, "--precision", precision, "--threads", "1"]
        kwargs = dict(stride=2, padding=1, padding_mode=mode, precision=precision, threads=1)
        want, got = cli(*flags), lipschitz.conv_norm(w, 16, **kwargs).to_dict()
        want.pop("seconds"), got.pop("seconds")
        assert got == want
    values = cli(*flags, "--all")["singular_values"]
    assert np.array_equal(lipschitz.conv_spectrum(w, 16, **kwargs), np.array(values))


def test_reads_in_place():
    w64 = np.random.default_rng(1).normal(size=(8, 4, 3, 3))
    _, _, address = lipschitz.conv._analyze(w64, 8, 1, 1, 1, 1, "zeros", False, 1e-6, False,
                                           "double", 0, 1024, "auto", 0)
    assert address == w64.ctypes.data
    t32 = torch.randn(8, 4, 3, 3)
    _, _, address = lipschitz.conv._analyze(lipschitz.conv._as_array(t32), 8, 1, 1, 1, 1,
                                           "zeros", False, 1e-6, False, "float", 0, 1024, "auto",
                                           0)
    assert address == t32.data_ptr()
    # A strided view is converted once, and gives the same answer as its copy.
    view = w64[:, ::2]
    assert lipschitz.conv_norm(view, 8, padding=1).to_dict().keys()
    assert (lipschitz.conv_norm(view, 8, padding=1).spectral_norm
            == lipschitz.conv_norm(np.ascontiguousarray(view), 8, padding=1).spectral_norm)


def test_releases_the_gil():
    """Two threads inside the engine at once: their compute intervals overlap. With the GIL
    held, the second could not enter before the first returned."""
    w = np.random.default_rng(2).normal(size=(128, 128, 3, 3))
    barrier = threading.Barrier(2)
    spans = []

    def work():
        barrier.wait()
        r = lipschitz.conv_norm(w, 48, padding_mode="circular", threads=1)  # ~0.2 s
        end = __import__("time").perf_counter()
        spans.append((end - r.seconds, end))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (a0, a1), (b0, b1) = sorted(spans)
    assert b0 < a1, spans


@pytest.mark.parametrize("call, message", [
    (lambda: lipschitz.conv_norm(np.ones((3, 2, 3, 3)), 8, groups=2), "groups must divide"),
    (lambda: lipschitz.conv_norm(np.ones((4, 3)), 8), "expected a 3-D"),
    (lambda: lipschitz.conv_norm(np.full((4, 3, 3, 3), np.nan), 8), "not finite"),
    (lambda: lipschitz.conv_norm(np.ones((4, 3, 3, 3)), (8, 8, 8)), "input_size must have 2"),
    (lambda: lipschitz.conv_norm(np.ones((4, 3, 3)), 0), "input_size must be at least 1"),
    (lambda: lipschitz.conv_norm(np.ones((4, 3, 3, 3)), 8, padding_mode="reflect"), "reflect"),
    (lambda: lipschitz.conv_norm(np.ones((4, 3, 3, 3)), 8, tolerance=2), "tolerance must be"),
    (lambda: lipschitz.conv_norm(np.ones((4, 3, 3, 3)), 8, precision="half"), "precision"),
    (lambda: lipschitz.conv_norm(np.ones((4, 3, 3, 3)), 9, stride=2, padding_mode="circular"),
     "stride"),
    (lambda: lipschitz.conv_spectrum(np.ones((64, 64, 3, 3)), 32, padding=1), "exact spectrum"),
])
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_result_object():
    r = lipschitz.conv_norm(torch.ones(2, 1, 1, 1), 4, padding_mode="circular")
    assert float(r) == pytest.approx(2 ** 0.5)
    assert "ConvNorm(spectral_norm=1.41421356" in repr(r)
    assert r.method == "circular-exact" and r.input_shape == (1, 4, 4)


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reshaped_weight_norm_is_of_the_weight_at_the_call(transposed, dtype):
    # What torch.nn.utils.spectral_norm divides by: sigma_1 of the weight reshaped along dim 0
    # (dim 1 when transposed). Computed on first use, from the weight as it was at the call.
    w = np.random.default_rng(5).standard_normal((6, 4, 3, 3)).astype(dtype)
    rows = np.moveaxis(w, 1, 0) if transposed else w
    expected = np.linalg.svd(rows.reshape(rows.shape[0], -1).astype(np.float64),
                             compute_uv=False)[0]
    r = lipschitz.conv_norm(w, 8, padding=1, transposed=transposed)
    w *= 10   # an optimiser step after the call
    assert r.reshaped_weight_norm == pytest.approx(expected, rel=1e-12)
    assert r.to_dict()["reshaped_weight_norm"] == r.reshaped_weight_norm
