"""Whole-network Lipschitz bounds: `lipschitz report` for a model file or an nn.Module."""
import json
import os
import tempfile

import numpy as np

__all__ = ["NetworkBound", "network_bound"]


class NetworkBound:
    """The report of a network: a certified upper bound on its Lipschitz constant (L2), a lower
    bound, and every layer's certified norm. ``to_dict()`` is ``lipschitz report --json``'s
    object; ``network`` and ``layers`` are its parts as dicts (docs/report.md has every key)."""

    __slots__ = ("_d",)

    def __init__(self, d):
        self._d = d

    upper = property(lambda self: self._d["network"]["upper_bound"],
                     doc="certified: Lip <= upper (None when no bound exists, see reasons)")
    lower = property(lambda self: self._d["network"]["lower_bound"], doc="Lip >= lower")
    ratio = property(lambda self: self._d["network"]["ratio"])
    method = property(lambda self: self._d["network"]["method"],
                      doc="the method whose bound is the answer")
    exact = property(lambda self: self._d["network"]["exact"],
                     doc="upper and lower within 1 %")
    certified = property(lambda self: self._d["network"]["certified"])
    product_bound = property(lambda self: self._d["network"]["product_bound"])
    network = property(lambda self: self._d["network"])
    layers = property(lambda self: self._d["layers"])

    def to_dict(self):
        return json.loads(json.dumps(self._d))

    def __repr__(self):
        def f(v):
            return "None" if v is None else f"{v:.6g}"
        return (f"NetworkBound(upper={f(self.upper)}, lower={f(self.lower)}, "
                f"method={self.method!r}, exact={self.exact}, layers={len(self.layers)})")


def _traced(module, input_shape, directory):
    """A CPU copy of the module traced to TorchScript in eval mode on a zero input, saved in
    directory. The copy leaves the user's module (its device, mode and parameters) alone."""
    import copy

    import torch
    if input_shape is None:
        raise ValueError("input_shape is required for an nn.Module (the per-sample shape, "
                         "e.g. (3, 64, 64))")
    module = copy.deepcopy(module).cpu().eval()
    with torch.no_grad():
        traced = torch.jit.trace(module, torch.zeros((1, *input_shape)), check_trace=False)
    path = os.path.join(directory, "module.pt")
    torch.jit.save(traced, path)
    return path


def network_bound(model, input_shape=None, data=None, *, bound="best", bound_seconds=60.0,
                  domain=None, tolerance=1e-6, precision="double", lower_bound=True,
                  samples=64, ascent_steps=40, seed=0, lower_bound_seconds=60.0, threads=0):
    """``lipschitz report`` of a TorchScript, ONNX or checkpoint file, or of an nn.Module.

    model: a path, or an nn.Module (a CPU copy traced to TorchScript in eval mode).
    input_shape: the per-sample input shape (required for a module; for a file, overrides the
    shape it records). data: samples (N, *input_shape) as an array or tensor, for the lower
    bound and ``domain="data"``. The keywords are the report's flags (docs/report.md): bound in
    product, combettes, eclipse, sdp, regions, local, best; domain None, "data" or
    "box:LO,HI". Raises ValueError for bad options or data, lipschitz.ModelError (a ValueError)
    for a model that cannot be read."""
    import torch

    from . import _report
    if precision not in ("double", "float"):
        raise ValueError(f"precision must be 'double' or 'float', got {precision!r}")
    array = None
    if data is not None:
        if hasattr(data, "detach"):
            data = data.detach().cpu().numpy()
        array = np.ascontiguousarray(data, dtype=np.float64)
    shape = None if input_shape is None else [int(v) for v in input_shape]
    with tempfile.TemporaryDirectory(prefix="lipschitz-") as tmp:
        path = model if isinstance(model, (str, os.PathLike)) else _traced(model, shape, tmp)
        # The importer checks each layer on random inputs drawn from LibTorch's default
        # generator, the one `torch` uses: keep the caller's random stream as it was.
        with torch.random.fork_rng(devices=[]):
            text = _report.network_report(
                os.fspath(path), shape, array, "data (array)", float(tolerance),
                precision == "double", bound, float(bound_seconds), domain or "",
                bool(lower_bound), int(samples), int(ascent_steps), int(seed),
                float(lower_bound_seconds), int(threads))
    d = json.loads(text)
    if not isinstance(model, (str, os.PathLike)):
        d["model"] = f"<nn.Module {type(model).__name__}>"
    return NetworkBound(d)
