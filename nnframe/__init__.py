"""nnframe: a deep-learning framework on its own symbolic graph core (Theano's way).

>>> import nnframe.tensor as T
>>> from nnframe import function, shared, config
"""
__version__ = "0.1.0"

# first: under mpirun, each rank's BLAS threads are set before NumPy loads
from nnframe import _launcher_threads  # noqa: F401, I001

from nnframe.config import config
from nnframe.core.function import In, Out, function
from nnframe.core.gradient import grad, verify_grad
from nnframe.core.graph import clone_replace
from nnframe.core.shared import shared

__all__ = ["config", "function", "In", "Out", "shared", "grad", "verify_grad", "clone_replace",
           "pp", "debugprint", "pydotprint", "scan", "__version__"]

_PRINTING = ("pp", "debugprint", "pydotprint")


def __getattr__(name):
    # ``nnframe.pp`` as Theano's ``theano.pp``; printing is imported on first use so
    # that ``import nnframe`` stays fast.
    if name in _PRINTING:
        from nnframe import printing
        return getattr(printing, name)
    if name == "scan":  # theano.scan
        from nnframe.tensor.scan import scan
        return scan
    raise AttributeError(f"module 'nnframe' has no attribute {name!r}")
