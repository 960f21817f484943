"""lipschitz: exact spectral norms of convolution layers, from Python (docs/python.md)."""
from ._core import ResourceError
from .conv import ConvNorm, conv_norm, conv_spectrum

__all__ = ["ConvNorm", "ResourceError", "conv_norm", "conv_spectrum"]
__version__ = "0.1.0"
