"""``import nnframe.tensor as T``: typed symbolic tensors and the ops on them.

>>> import nnframe.tensor as T
>>> from nnframe import function
>>> x = T.dscalar('x'); y = T.dscalar('y')
>>> function([x, y], x + y)(2, 3)
array(5.)
"""
from nnframe.core.op import as_tensor_variable
from nnframe.core.types import TensorType
from nnframe.core.variable import TensorConstant, TensorVariable, constant
from nnframe.core.ops.elemwise import *  # noqa: F401,F403  (one builder per scalar-table row)
from nnframe.core.ops.elemwise import cast, fill, ones_like, zeros_like
from nnframe.core.ops.shape import (addbroadcast, alloc, arange, concatenate, dimshuffle,
                                    expand_dims, flatten, full, make_vector, ones, reshape,
                                    shape, shape_i, specify_shape, split, squeeze, stack,
                                    transpose, unbroadcast, zeros)
from nnframe.core.ops.reduce import (all, any, argmax, argmin, max, mean, min, prod, std, sum,
                                     var)
from nnframe.core.ops.cumulative import cumprod, cumsum
from nnframe.core.ops.blas import batched_dot, dot, outer, tensordot
from nnframe.core.ops.grad_ops import (disconnected_grad, grad_clip, grad_scale, ste, ste_sign,
                                       zero_grad)
from nnframe.core.gradient import (DisconnectedInputError, Lop, Rop, grad, hessian, jacobian,
                                   verify_grad)
from nnframe.core.ops.subtensor import *  # noqa: F401,F403
from nnframe.tensor.basic import (abs_, horizontal_stack, join, round, sgn,
                                  shape_padaxis, shape_padleft, shape_padright, tensor_copy,
                                  vertical_stack, where)
from nnframe.tensor.types import CONSTRUCTORS, tensor

from nnframe.tensor import nnet, random  # noqa: E402,F401  (T.nnet, T.random)
from nnframe.core.ops.nnet import logsumexp  # noqa: E402  (also T.logsumexp, as in PyTensor)

globals().update(CONSTRUCTORS)

as_tensor = as_tensor_variable
# NumPy / Theano spellings of table rows
divide = true_div  # noqa: F405
floor_div = int_div  # noqa: F405
square = sqr  # noqa: F405
power = pow  # noqa: F405
sign = sgn
inv = reciprocal  # noqa: F405
