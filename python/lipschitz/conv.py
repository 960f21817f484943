"""Spectral norms and spectra of convolution layers (docs/python.md)."""
import json

import numpy as np

from . import _core

__all__ = ["ConvNorm", "conv_norm", "conv_spectrum"]


class ConvNorm:
    """A layer's certified spectral norm: ``lower <= sigma_1 <= upper``.

    ``exact`` says the interval is within the tolerance; ``method`` is how it was found
    ("circular-exact", "dense-svd" or "torus-bound+lanczos"). ``to_dict()`` is the object
    ``lipschitz conv --json`` prints for the same layer."""

    __slots__ = ("_d", "singular_values", "_reshaped")

    def __init__(self, d, singular_values=None, reshaped=None):
        self._d = d
        self.singular_values = singular_values
        # (a private copy of the weight, transposed, threads): reshaped_weight_norm is computed
        # on first use, since it can cost a third of a wide layer's analysis.
        self._reshaped = reshaped

    def _complete(self):
        if self._reshaped is not None:
            self._d["reshaped_weight_norm"] = _core.reshaped_norm(*self._reshaped)
            self._reshaped = None
        return self._d

    spectral_norm = property(lambda self: self._d["spectral_norm"], doc="best estimate of sigma_1")
    lower = property(lambda self: self._d["lower_bound"], doc="certified: sigma_1 >= lower")
    upper = property(lambda self: self._d["upper_bound"], doc="certified: sigma_1 <= upper")
    exact = property(lambda self: self._d["exact"])
    method = property(lambda self: self._d["method"])
    seconds = property(lambda self: self._d["seconds"], doc="wall time of the engine")
    reshaped_weight_norm = property(lambda self: self._complete()["reshaped_weight_norm"],
                                    doc="what torch.nn.utils.spectral_norm divides by (not a "
                                        "bound); computed on first use")
    input_shape = property(lambda self: tuple(self._d["input_shape"]))
    output_shape = property(lambda self: tuple(self._d["output_shape"]))

    def to_dict(self):
        d = dict(self._complete())
        if self.singular_values is not None:
            d["singular_values"] = self.singular_values.tolist()
        return d

    def __float__(self):
        return float(self.spectral_norm)

    def __repr__(self):
        return (f"ConvNorm(spectral_norm={self.spectral_norm:.9g}, lower={self.lower:.9g}, "
                f"upper={self.upper:.9g}, exact={self.exact}, method={self.method!r})")


def _pair(value, name, spatial_dims, minimum):
    """An int or a sequence of spatial_dims ints, as the engine's (dim 0, dim 1) pair."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be an integer or a tuple of {spatial_dims}, got {value!r}")
    if isinstance(value, (int, np.integer)):
        values = (int(value),) * spatial_dims
    else:
        try:
            values = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be an integer or a tuple of {spatial_dims}, "
                             f"got {value!r}") from None
        if len(values) != spatial_dims:
            raise ValueError(f"{name} must have {spatial_dims} entries for a {spatial_dims}-D "
                             f"layer, got {value!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return (1 if minimum else 0, values[0]) if spatial_dims == 1 else values


def _as_array(weight):
    """A NumPy view of a NumPy array or torch tensor (CPU tensors shared, CUDA ones copied)."""
    if hasattr(weight, "detach") and hasattr(weight, "cpu"):   # a torch.Tensor, without import
        return weight.detach().cpu().numpy()
    return np.asarray(weight)


def _analyze(w, input_size, stride, padding, dilation, groups, padding_mode, transposed,
             tolerance, all_values, precision, threads, dense_limit, gram_source, max_memory):
    if w.ndim not in (3, 4):
        raise ValueError("expected a 3-D (1-D convolution) or 4-D (2-D convolution) weight, "
                         f"got shape {tuple(w.shape)}")
    nd = w.ndim - 2
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif padding == "same":
            k = w.shape[2:]
            d = (dilation,) * nd if isinstance(dilation, int) else tuple(dilation)
            padding = tuple((d[i] * (k[i] - 1)) // 2 for i in range(nd))
        else:
            raise ValueError(f"padding must be an integer, a tuple, 'valid' or 'same', got {padding!r}")
    if not max_memory >= 0:
        raise ValueError(f"max_memory must be non-negative, got {max_memory!r}")
    text, values, address = _core.conv_analyze(
        w, _pair(input_size, "input_size", nd, 1), _pair(stride, "stride", nd, 1),
        _pair(padding, "padding", nd, 0), _pair(dilation, "dilation", nd, 1), int(groups),
        padding_mode, bool(transposed), float(tolerance), all_values, precision, int(threads),
        int(dense_limit), gram_source, float(max_memory) * 2.0**30)
    return json.loads(text), values, address


def conv_norm(weight, input_size, stride=1, padding=0, dilation=1, groups=1,
              padding_mode="zeros", transposed=False, tolerance=1e-6, *, precision="double",
              threads=0, dense_limit=1024, gram_source="auto", max_memory=0):
    """The certified spectral norm of a convolution layer with PyTorch's semantics.

    weight: NumPy array or torch tensor in PyTorch's layout, (c_out, c_in/groups, k[, k]) or,
    transposed, (c_in, c_out/groups, k[, k]); 3-D for a 1-D layer. input_size: the spatial
    input size, N or (H, W). The other arguments are nn.Conv2d's and ``lipschitz conv``'s
    (max_memory in GiB, 0: 3/4 of RAM). Returns a ConvNorm. Raises ValueError for bad shapes or
    options, lipschitz.ResourceError (a MemoryError) for a layer that would not fit."""
    w = _as_array(weight)
    d, _, _ = _analyze(w, input_size, stride, padding, dilation, groups, padding_mode,
                       transposed, tolerance, False, precision, threads, dense_limit,
                       gram_source, max_memory)
    # A copy: the caller may change the weight (an optimiser step) before asking.
    return ConvNorm(d, reshaped=(np.array(w, order="C"), bool(transposed), int(threads)))


def conv_spectrum(weight, input_size, stride=1, padding=0, dilation=1, groups=1,
                  padding_mode="zeros", transposed=False, tolerance=1e-6, *,
                  precision="double", threads=0, dense_limit=1024, max_memory=0):
    """Every singular value of the layer, descending, with multiplicity (a float64 NumPy array).

    Exact for circular padding, and for zero padding when the operator has at most dense_limit
    rows or columns on its smaller side; other layers raise ValueError."""
    d, values, _ = _analyze(_as_array(weight), input_size, stride, padding, dilation, groups,
                            padding_mode, transposed, tolerance, True, precision, threads,
                            dense_limit, "auto", max_memory)
    if values.size == 0:
        raise ValueError("only circular layers and zero-padded operators of at most dense_limit "
                         "rows and columns have an exact spectrum")
    return values
