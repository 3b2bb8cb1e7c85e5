"""``import nnframe.tensor as T``: typed symbolic tensors and the ops on them.

>>> import nnframe.tensor as T
>>> from nnframe import function
>>> x = T.dscalar('x'); y = T.dscalar('y')
>>> function([x, y], x + y)(2, 3)
array(5.)
"""
# Every public name of the op families (their ``__all__``) is in T, so an op added to a
# family module's ``__all__`` needs no edit here; ``tensor.basic`` comes after ``elemwise``
# because its ``round``, ``sgn``, ``where``... take Theano's arguments.
from nnframe.core import gradient as _gradient
from nnframe.core.gradient import *  # noqa: F403
from nnframe.core.op import as_tensor_variable
from nnframe.core.ops import blas as _blas
from nnframe.core.ops import cumulative as _cumulative
from nnframe.core.ops import elemwise as _elemwise
from nnframe.core.ops import grad_ops as _grad_ops
from nnframe.core.ops import reduce as _reduce
from nnframe.core.ops import shape as _shape
from nnframe.core.ops import subtensor as _subtensor
from nnframe.core.ops.blas import *  # noqa: F403
from nnframe.core.ops.cumulative import *  # noqa: F403
from nnframe.core.ops.elemwise import *  # noqa: F403
from nnframe.core.ops.grad_ops import *  # noqa: F403
from nnframe.core.ops.ifelse import ifelse  # T.ifelse, as theano.ifelse.ifelse
from nnframe.core.ops.nnet import logsumexp  # also T.logsumexp, as in PyTensor
from nnframe.core.ops.reduce import *  # noqa: F403
from nnframe.core.ops.shape import *  # noqa: F403
from nnframe.core.ops.subtensor import *  # noqa: F403
from nnframe.core.types import TensorType
from nnframe.core.variable import TensorConstant, TensorVariable, constant
from nnframe.tensor import basic as _basic
from nnframe.tensor import nnet, random  # T.nnet, T.random
from nnframe.tensor import scan as _scan
from nnframe.tensor import types as _types
from nnframe.tensor.basic import *  # noqa: F403
from nnframe.tensor.scan import *  # noqa: F403
from nnframe.tensor.types import *  # noqa: F403
from nnframe.tensor.types import CONSTRUCTORS

globals().update(CONSTRUCTORS)

as_tensor = as_tensor_variable
# NumPy / Theano spellings of table rows
divide = true_div  # noqa: F405
floor_div = int_div  # noqa: F405
square = sqr  # noqa: F405
power = pow  # noqa: F405
sign = sgn  # noqa: F405
inv = reciprocal  # noqa: F405

#: the modules whose ``__all__`` T re-exports (tests/tensor/test_namespace.py checks it)
FAMILIES = (_elemwise, _shape, _reduce, _cumulative, _blas, _grad_ops, _subtensor, _gradient,
            _basic, _types, _scan)
__all__ = ["as_tensor_variable", "as_tensor", "TensorType", "TensorConstant", "TensorVariable",
           "constant", "nnet", "random", "logsumexp", "divide", "floor_div", "square", "power",
           "sign", "inv", "ifelse"]
__all__ += sorted({name for module in FAMILIES for name in module.__all__} | set(CONSTRUCTORS))
