"""NumPy kernel of cumulative sums and products (``CumOp``).

``np.cumsum``/``np.cumprod`` with the output dtype fixed at compile time:
NumPy accumulates in that dtype, one entry after the other along the axis.

>>> import nnframe.tensor as T
>>> node = T.cumsum(T.ivector('v')).owner
>>> cumulative_kernel(node)(np.array([1, 2, 3], 'int32'))
array([1, 3, 6])
"""
import numpy as np

from nnframe.backends.numpy.registry import register
from nnframe.core.ops.cumulative import CumOp

__all__ = ["cumulative_kernel"]


@register(CumOp)
def cumulative_kernel(node):
    func = np.cumsum if node.op.mode == "add" else np.cumprod
    axis = node.op.axis
    dtype = np.dtype(node.outputs[0].dtype)
    return lambda x: func(x, axis=axis, dtype=dtype)
