"""Importing this module registers every OpenCL kernel factory (one module per Op family)."""
from nnframe.backends.opencl import (  # noqa: F401
                                     blas,
                                     conv,
                                     cumulative,
                                     elemwise,
                                     ifelse,
                                     misc,
                                     nnet,
                                     pool,
                                     random,
                                     reduce,
                                     scan,
                                     shape,
                                     subtensor,
)
