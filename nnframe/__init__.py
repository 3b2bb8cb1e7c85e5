"""nnframe: a deep-learning framework on its own symbolic graph core (Theano's way).

>>> import nnframe.tensor as T
>>> from nnframe import function, shared, config
"""
__version__ = "0.1.0"

from nnframe.config import config
from nnframe.core.function import In, Out, function
from nnframe.core.gradient import grad, verify_grad
from nnframe.core.shared import shared

__all__ = ["config", "function", "In", "Out", "shared", "grad", "verify_grad", "__version__"]
