"""Importing this module registers every OpenCL kernel factory (one module per Op family)."""
from nnframe.backends.opencl import (blas, conv, cumulative, elemwise, misc, nnet,  # noqa: F401
                                     pool, random, reduce, shape, subtensor)
