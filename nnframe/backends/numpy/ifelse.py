"""NumPy kernel for IfElse: both branches compiled once, only the selected one runs.

>>> import numpy as np, nnframe.tensor as T
>>> from nnframe.core.ops.ifelse import ifelse
>>> c = T.bscalar('c'); x = T.dvector('x')
>>> run = ifelse_kernel(ifelse(c, x * 2, x).owner)
>>> run(np.array(1, 'int8'), np.array([1.0, 2.0])), run(np.array(0, 'int8'), np.ones(1))
(array([2., 4.]), array([1.]))
"""
from nnframe.backends.numpy.registry import register
from nnframe.core.ops.ifelse import IfElse

__all__ = []


@register(IfElse)
def ifelse_kernel(node):
    op = node.op
    # Compiled like any function: an output that is an input (or a view of one, or a
    # constant) comes back copied, so the caller's arrays are never aliased.
    run_then, run_else = op.compile_branches("numpy")
    is_true = op.is_true
    single = len(node.outputs) == 1

    def run(cond, *free):
        outs = run_then(*free) if is_true(cond) else run_else(*free)
        return outs[0] if single else outs
    return run
