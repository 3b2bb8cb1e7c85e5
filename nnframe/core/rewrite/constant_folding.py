"""Constant folding: nodes whose inputs are all constants are computed once, at compile time.

Results larger than ``MAX_FOLDED_BYTES`` are left to run time (folding a big
``zeros((n, m))`` would only trade compute for memory held by the function).
Ops with ``do_constant_folding = False`` (random draws) are never folded.
"""
import numpy as np

from nnframe.core.graph import Constant
from nnframe.core.variable import TensorConstant

__all__ = ["fold_constants", "MAX_FOLDED_BYTES"]

MAX_FOLDED_BYTES = 1 << 20


def fold_constants(fgraph):
    """Replace computable-at-compile-time nodes by constants; returns the number folded."""
    from nnframe.backends.numpy import kernel_for
    count = 0
    for node in fgraph.nodes():
        if not node.op.do_constant_folding or not node.inputs:
            continue
        if not all(isinstance(i, Constant) for i in node.inputs):
            continue
        values = kernel_for(node)(*[i.data for i in node.inputs])
        values = values if len(node.outputs) > 1 else (values,)
        if any(np.asarray(v).nbytes > MAX_FOLDED_BYTES for v in values):
            continue
        replacements = []
        for out, value in zip(node.outputs, values):
            data = np.array(value, dtype=out.type.dtype)  # a private, frozen copy
            data.setflags(write=False)
            replacements.append((out, TensorConstant(out.type, data)))
        fgraph.replace_all(replacements, reason="constant folding")
        count += 1
    return count
