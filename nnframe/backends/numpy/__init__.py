"""The NumPy backend: the reference implementation of every Op.

Importing this package registers all kernels (one module per Op family).
"""
from nnframe.backends.numpy.registry import KERNELS, kernel_for, register
from nnframe.backends.numpy import (blas, conv, elemwise, grad_ops, loop, nnet, pool,  # noqa: F401
                                   random, reduce, shape, subtensor)  # (registration)


class NumpyBackend:
    """Values are NumPy arrays on the host; nothing to move before or after a call."""

    name = "numpy"

    @staticmethod
    def make_kernel(node):
        return kernel_for(node)


backend = NumpyBackend()

__all__ = ["backend", "kernel_for", "register", "KERNELS"]
