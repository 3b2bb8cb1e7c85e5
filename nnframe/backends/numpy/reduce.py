"""NumPy kernels for reductions (``ufunc.reduce``: less overhead than ``np.sum``)."""
import numpy as np

from nnframe.backends.numpy.registry import register
from nnframe.core.ops import reduce as reduce_ops

_UFUNCS = {"sum": np.add, "prod": np.multiply, "max": np.maximum, "min": np.minimum,
           "all": np.logical_and, "any": np.logical_or}


@register(reduce_ops.Sum, reduce_ops.Prod)
def sum_prod_kernel(node):
    reduce = _UFUNCS[node.op.numpy_name].reduce
    axis = node.op.axis
    dtype = np.dtype(node.outputs[0].dtype)
    if node.outputs[0].ndim == 0:
        return lambda x: np.asarray(reduce(x, axis=axis, dtype=dtype))
    return lambda x: reduce(x, axis=axis, dtype=dtype)


@register(reduce_ops.Max, reduce_ops.Min, reduce_ops.All, reduce_ops.Any)
def extremum_kernel(node):
    reduce = _UFUNCS[node.op.numpy_name].reduce
    axis = node.op.axis
    empty_is_error, empty_error = node.op.empty_is_error, node.op.empty_error
    scalar_out = node.outputs[0].ndim == 0

    def run(x):
        if x.size == 0 and empty_is_error:
            raise empty_error(x.shape)
        out = reduce(x, axis=axis)
        return np.asarray(out) if scalar_out else out
    return run


@register(reduce_ops.Argmax, reduce_ops.Argmin)
def arg_kernel(node):
    func = getattr(np, node.op.numpy_name)
    axis = node.op.axis
    return lambda x: np.asarray(func(x, axis=axis), dtype=np.int64)
