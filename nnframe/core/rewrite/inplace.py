"""In-place: let Ops write into input buffers that nothing needs afterwards.

Runs last.  An Elemwise node may write into an input of exactly its output's
type, a Gemm into its ``z`` and an increment of a part (``inc_subtensor``) into its ``x``, when :meth:`FunctionGraph.can_destroy`
agrees: the buffer is not a caller's array or a constant, no output or update
shares it, and every other reader of it can run first.  A shared variable's
buffer may be overwritten only by the computation of its own update (the old
value is replaced anyway); compiled functions copy a value a caller borrowed
before overwriting it.
"""
from nnframe.core.graph import Constant
from nnframe.core.ops.blas import Gemm
from nnframe.core.ops.elemwise import Elemwise
from nnframe.core.ops.subtensor import _IncBase

__all__ = ["make_inplace"]


def _inplace_candidate(fgraph, node):
    """The in-place replacement Op for ``node``, or None."""
    op = node.op
    if isinstance(op, Gemm) and not op.inplace:
        if fgraph.can_destroy(node, 0):
            return Gemm(inplace=True)
        return None
    if isinstance(op, _IncBase) and not op.inplace:
        if fgraph.can_destroy(node, 0):
            return type(op)(op.idx_list, op.set_instead_of_inc, inplace=True)
        return None
    if isinstance(op, Elemwise) and op.inplace is None and op.scalar_op.accepts_out:
        out = node.outputs[0]
        for k, inp in enumerate(node.inputs):
            if isinstance(inp, Constant) or inp.type != out.type:
                continue
            if fgraph.can_destroy(node, k):
                return Elemwise(op.scalar_op, inplace=k)
    return None


def make_inplace(fgraph):
    """Switch every node that safely can to its in-place version; returns how many."""
    count = 0
    for node in fgraph.toposort():
        new_op = _inplace_candidate(fgraph, node)
        if new_op is None:
            continue
        # Same inputs and types: swap the Op on the node itself.
        node.op = new_op
        fgraph.destroyer_added(node)
        count += 1
    return count
