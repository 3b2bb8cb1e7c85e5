"""``import nnframe.compat.theano.tensor as T``: nnframe.tensor, with Theano's submodules.

Every public name of :mod:`nnframe.tensor` is here (the same objects), plus the
submodules ``nnet``, ``signal`` (``signal.pool``) and ``shared_randomstreams``.
"""
from importlib import import_module as _import_module

from nnframe.tensor import *  # noqa: F403
from nnframe.tensor import __all__ as _tensor_all

# The star import bound ``nnet`` to nnframe.tensor.nnet; ``from . import nnet`` would
# keep that attribute, so the submodules are imported by their full names.
nnet = _import_module("nnframe.compat.theano.tensor.nnet")
signal = _import_module("nnframe.compat.theano.tensor.signal")
shared_randomstreams = _import_module("nnframe.compat.theano.tensor.shared_randomstreams")

__all__ = sorted(set(_tensor_all) | {"nnet", "signal", "shared_randomstreams"})
