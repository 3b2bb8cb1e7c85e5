"""Sums of increments into disjoint parts of zeros become one buffer filled part by part.

The gradient of ``x[:, :H]``, ``x[:, H:2*H]``, ... (the gates of an LSTM, the
halves of a split) is a sum of ``inc_subtensor(zeros[part], g_part)``: one
zero buffer per part, then the sum.  When the parts do not overlap, the sum
is the increments applied one after the other to a single buffer, which the
in-place pass then fills without copies.

>>> import nnframe.tensor as T
>>> g = T.dmatrix('g'); z = T.zeros_like(g)
>>> total = T.inc_subtensor(z[:, :2], g[:, :2]) + T.inc_subtensor(z[:, 2:], g[:, 2:])
"""
from nnframe.core.graph import Constant
from nnframe.core.ops.elemwise import Elemwise
from nnframe.core.ops.subtensor import FULL_SLICE, IncSubtensor, SliceSpec
from nnframe.core.rewrite.local import is_constant_value, local_rewrite, scalar_op_name

__all__ = ["disjoint_increments"]


def _is_zeros(var):
    if isinstance(var, Constant):
        return is_constant_value(var, 0)
    return scalar_op_name(var.owner) == "second" and is_constant_value(var.owner.inputs[1], 0)


def _same_zeros(a, b):
    """Both zero buffers of the same shape (the same node, or zeros_like of one variable)."""
    if a is b:
        return True
    return (a.type == b.type and not isinstance(a, Constant) and not isinstance(b, Constant)
            and a.owner.inputs[0] is b.owner.inputs[0])


def _increments_of_zeros(var):
    """``(zeros, [node, ...])`` when ``var`` is constant-index increments of a zero buffer,
    applied in list order; else None."""
    nodes = []
    while var.owner is not None and type(var.owner.op) is IncSubtensor:
        if len(var.owner.inputs) != 2:  # symbolic bounds: overlap unknown
            return None
        nodes.append(var.owner)
        var = var.owner.inputs[0]
    if not nodes or not _is_zeros(var):
        return None
    return var, nodes[::-1]


def _interval(entry):
    """``(start, stop)`` along an axis for an int or a constant non-negative step-1 slice;
    ``stop`` None means to the end.  None when unknown."""
    if isinstance(entry, int):
        return (entry, entry + 1) if entry >= 0 else None
    if isinstance(entry, SliceSpec) and entry.step in (None, 1):
        start = 0 if entry.start is None else entry.start
        stop = entry.stop
        if isinstance(start, int) and start >= 0 and (stop is None or (isinstance(stop, int)
                                                                       and stop >= 0)):
            return start, stop
    return None


def _disjoint(idx_a, idx_b):
    """Whether two constant index lists select parts that share no entry."""
    n = max(len(idx_a), len(idx_b))
    idx_a = tuple(idx_a) + (FULL_SLICE,) * (n - len(idx_a))
    idx_b = tuple(idx_b) + (FULL_SLICE,) * (n - len(idx_b))
    for a, b in zip(idx_a, idx_b):
        ia, ib = _interval(a), _interval(b)
        if ia is None or ib is None:
            continue
        if (ia[1] is not None and ia[1] <= ib[0]) or (ib[1] is not None and ib[1] <= ia[0]):
            return True
    return False


@local_rewrite(Elemwise)
def disjoint_increments(node):
    """``inc(zeros[a], x) + inc(zeros[b], y)`` -> ``inc(inc(zeros[a], x)[b], y)`` for disjoint
    a and b (chains of such increments too)."""
    if scalar_op_name(node) != "add" or len(node.inputs) != 2:
        return None
    left, right = (_increments_of_zeros(v) for v in node.inputs)
    if left is None or right is None or not _same_zeros(left[0], right[0]):
        return None
    if not all(_disjoint(a.op.idx_list, b.op.idx_list) for a in left[1] for b in right[1]):
        return None
    out = node.inputs[0]
    for inc in right[1]:
        out = IncSubtensor(inc.op.idx_list, inc.op.set_instead_of_inc)(out, inc.inputs[1])
    return [out] if out.type == node.outputs[0].type else None
