"""lipschitz: exact spectral norms of convolution layers and certified Lipschitz bounds of whole
networks, from Python (docs/python.md)."""
from ._core import ResourceError
from .conv import ConvNorm, conv_norm, conv_spectrum
from .monitor import Monitor
from .network import NetworkBound, network_bound

__all__ = ["ConvNorm", "ModelError", "Monitor", "NetworkBound", "ResourceError", "conv_norm",
           "conv_spectrum", "network_bound"]
__version__ = "0.1.0"


def __getattr__(name):
    # ModelError lives in the LibTorch module, loaded on first use only.
    if name == "ModelError":
        from ._report import ModelError
        return ModelError
    raise AttributeError(f"module 'lipschitz' has no attribute {name!r}")
