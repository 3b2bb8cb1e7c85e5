"""The NumPy backend: the reference implementation of every Op.

Importing this package registers all kernels (one module per Op family).
"""
import numpy as np

from nnframe.backends.numpy import (  # noqa: F401
    blas,
    conv,
    cumulative,
    elemwise,
    grad_ops,
    ifelse,
    loop,
    nnet,  # (registration)
    pool,
    random,
    reduce,
    scan,
    shape,
    subtensor,
)
from nnframe.backends.numpy.registry import KERNELS, kernel_for, register


class NumpyBackend:
    """Values are NumPy arrays on the host; nothing to move before or after a call.

    This is also the reference for the backend protocol used by
    :func:`nnframe.core.link.link`.
    """

    name = "numpy"
    host = True
    native_type = np.ndarray

    @staticmethod
    def make_kernel(node):
        return kernel_for(node)

    @staticmethod
    def to_native(value):
        """A host ndarray (values of other backends have ``.get()``, e.g. device arrays)."""
        return value if isinstance(value, np.ndarray) else value.get()

    @staticmethod
    def to_host(value):
        return value


backend = NumpyBackend()

__all__ = ["backend", "kernel_for", "register", "KERNELS"]
