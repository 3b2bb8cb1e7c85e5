"""OpenCL kernel for IfElse: the condition is read on the host, the branch runs on the device.

Each branch is compiled once, for this device, as a function whose outputs
stay device arrays (:class:`~nnframe.backends.opencl.inner.DeviceOutputsMode`):
the selected branch takes the node's device arrays and returns device arrays,
so the data makes no host round trip.  Only the condition, a scalar, is downloaded when a kernel
computed it (a host value is read as it is).

>>> import numpy as np, nnframe.tensor as T                      # doctest: +SKIP
>>> from nnframe import function                                  # doctest: +SKIP
>>> x = T.fvector('x')                                            # doctest: +SKIP
>>> f = function([x], T.ifelse(T.gt(x.sum(), 0), x * 2, -x), mode='opencl')  # doctest: +SKIP
>>> f(np.ones(3, 'float32'))                                      # doctest: +SKIP
array([2., 2., 2.], dtype=float32)
"""
import numpy as np

from nnframe.backends.opencl.array import host_view
from nnframe.backends.opencl.inner import DeviceOutputsMode
from nnframe.backends.opencl.registry import register
from nnframe.core.ops.ifelse import IfElse

__all__ = []


def _not_shared(out, inputs):
    """``out``, or a copy of it if its host copy may be the memory of an input's host copy.

    Device memory is never written after a kernel fills it, so sharing a
    buffer is safe; a host copy may be the caller's array (a function input
    not uploaded yet), which the caller may change after the call.
    """
    if out.host is None:
        return out
    for a in inputs:
        if a is out or (a.host is not None and np.may_share_memory(a.host, out.host)):
            return out.copy()
    return out


@register(IfElse)
def ifelse_kernel(node, builder):
    op = node.op
    run_then, run_else = op.compile_branches(DeviceOutputsMode())
    is_true = op.is_true
    single = len(node.outputs) == 1

    def run(cond, *free):
        outs = run_then(*free) if is_true(host_view(cond)) else run_else(*free)
        outs = tuple(_not_shared(o, free) for o in outs)
        return outs[0] if single else outs
    return run
