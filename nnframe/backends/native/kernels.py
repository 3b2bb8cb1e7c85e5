"""Importing this module registers every C emitter and view rule of the native backend."""
from nnframe.backends.native import blas, conv, elemwise, nnet, pool, reduce, views  # noqa: F401
