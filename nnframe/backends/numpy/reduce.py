"""NumPy kernels for reductions."""
import numpy as np

from nnframe.backends.numpy.registry import register
from nnframe.core.ops import reduce as R


@register(R.Sum, R.Prod)
def sum_prod_kernel(node):
    func = getattr(np, node.op.numpy_name)
    axis = node.op.axis
    dtype = node.outputs[0].dtype
    return lambda x: np.asarray(func(x, axis=axis, dtype=dtype))


@register(R.Max, R.Min, R.All, R.Any)
def extremum_kernel(node):
    func = getattr(np, node.op.numpy_name)
    axis = node.op.axis
    name = node.op.numpy_name

    def run(x):
        if x.size == 0 and name in ("max", "min"):
            raise ValueError(f"{name} of an empty array (shape {x.shape}) has no value")
        return np.asarray(func(x, axis=axis))
    return run


@register(R.Argmax, R.Argmin)
def arg_kernel(node):
    func = getattr(np, node.op.numpy_name)
    axis = node.op.axis
    return lambda x: np.asarray(func(x, axis=axis), dtype=np.int64)
