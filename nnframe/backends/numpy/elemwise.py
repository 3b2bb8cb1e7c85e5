"""NumPy kernels for Elemwise: one ufunc (or NumPy function) call per node."""
import numpy as np

from nnframe.backends.numpy.registry import register
from nnframe.core.ops.elemwise import Elemwise


def _check_runtime_broadcast(node, inputs, result):
    """Reject NumPy broadcasting along axes whose type does not allow it."""
    for k, (var, value) in enumerate(zip(node.inputs, inputs)):
        if value.shape == result.shape:
            continue
        for axis, (have, want) in enumerate(zip(value.shape, result.shape)):
            if have != want and var.type.shape[axis] != 1:
                raise ValueError(
                    f"input {k} ({var}) of {node.op} has shape {value.shape} but the result has "
                    f"shape {result.shape}: axis {axis} is not broadcastable in its type "
                    f"{var.type}. Declare it broadcastable (T.row/T.col, T.addbroadcast, "
                    "dimshuffle with 'x') or give inputs of equal shapes")


@register(Elemwise)
def elemwise_kernel(node):
    row = node.op.scalar_op
    impl = row.impl
    out_dtype = np.dtype(node.outputs[0].dtype)
    to_cast = [k for k, x in enumerate(node.inputs)
               if row.float_inputs and np.dtype(x.dtype) != out_dtype]
    scalar_out = node.outputs[0].ndim == 0
    target = node.op.inplace
    if target is not None:
        return _inplace_kernel(node, impl, target, to_cast, out_dtype)

    def run(*inputs):
        if to_cast:
            inputs = list(inputs)
            for k in to_cast:
                inputs[k] = inputs[k].astype(out_dtype)
        result = impl(*inputs)
        if scalar_out:
            result = np.asarray(result)
        if result.dtype != out_dtype:
            result = result.astype(out_dtype)
        if len(inputs) > 1:
            _check_runtime_broadcast(node, inputs, result)
        return result
    return run


def _inplace_kernel(node, impl, target, to_cast, out_dtype):
    """The result written into input ``target``'s buffer (same dtype and shape)."""
    def run(*inputs):
        if to_cast:
            inputs = list(inputs)
            for k in to_cast:
                inputs[k] = inputs[k].astype(out_dtype)
        out = inputs[target]
        impl(*inputs, out=out)
        if len(inputs) > 1:
            _check_runtime_broadcast(node, inputs, out)
        return out
    return run
