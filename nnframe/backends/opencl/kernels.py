"""Importing this module registers every OpenCL kernel factory (one module per Op family)."""
from nnframe.backends.opencl import (blas, conv, elemwise, misc, nnet, pool,  # noqa: F401
                                     random, reduce, shape, subtensor)
