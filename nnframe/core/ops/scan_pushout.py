"""Work on sequence rows alone, done for all steps at once before the loop.

A step often starts with ``dot(x_t, W_in)``: it reads a sequence row and
loop-invariant values only, so the loop can instead read row ``t`` of
``dot(X, W_in)``, computed once as one large product (Theano's "push out" of
sequence operations).  :func:`push_out_sequence_work` finds such nodes in a
step (products of a row and an invariant matrix, elementwise ops and axis
shuffles of rows and invariants), builds their whole-sequence versions, and
turns what the rest of the step reads of them into new sequences.

>>> import nnframe.tensor as T
>>> X, W = T.dtensor3('X'), T.dmatrix('W')
>>> h, _ = T.scan(lambda x, h, W: T.tanh(T.dot(x, W) + h), sequences=X,
...               outputs_info=T.zeros((2, 3), dtype='float64'), non_sequences=W)
>>> # the Scan node now reads dot(X, W) row by row (its inner graph has no Dot)
"""
from nnframe.core.graph import Constant, clone_replace, toposort
from nnframe.core.ops.scan import values_read

__all__ = ["push_out_sequence_work"]


def _outer_elemwise(node, outer_inputs):
    return node.op.make_node(*outer_inputs).outputs[0]


def _outer_dimshuffle(node, outer_inputs):
    from nnframe.core.ops.shape import dimshuffle
    order = [0] + ["x" if o == "x" else o + 1 for o in node.op.new_order]
    return dimshuffle(outer_inputs[0], order)


def _outer_dot(node, outer_inputs):
    """``dot(rows, W)`` for all steps: one product of the rows stacked along the first axis."""
    from nnframe.core.ops.blas import dot
    from nnframe.core.ops.shape import reshape, shape_i, stack
    rows, w = outer_inputs
    if rows.ndim == 2:
        return dot(rows, w)
    n, batch = shape_i(rows, 0), shape_i(rows, 1)
    flat = reshape(rows, stack([n * batch, shape_i(rows, 2)]), ndim=2)
    out = dot(flat, w)
    return reshape(out, stack([n, batch, shape_i(w, 1)]), ndim=3)


def _pushable(node, is_row, is_invariant):
    """The function building ``node``'s whole-sequence version, or None.

    ``is_row(v)``: v is a row of a sequence (or computed from rows only);
    ``is_invariant(v)``: v is the same at every step.
    """
    from nnframe.core.ops.blas import Dot
    from nnframe.core.ops.elemwise import Elemwise
    from nnframe.core.ops.shape import DimShuffle
    ins = node.inputs
    if not any(is_row(v) for v in ins) or not all(is_row(v) or is_invariant(v) for v in ins):
        return None
    if isinstance(node.op, Elemwise) and len(node.outputs) == 1:
        return _outer_elemwise
    if isinstance(node.op, DimShuffle):
        return _outer_dimshuffle
    if (isinstance(node.op, Dot) and is_row(ins[0]) and ins[0].ndim in (1, 2)
            and is_invariant(ins[1]) and ins[1].ndim == 2):
        return _outer_dot
    return None


def push_out_sequence_work(exprs, seq_rows, outer_seqs, loop_vars):
    """``(exprs, new_rows, new_outer_seqs)``: the step with sequence-only work moved out.

    ``exprs`` are the step's results (before its free variables are replaced),
    ``seq_rows[j]`` the inner row variable of ``outer_seqs[j]``, ``loop_vars``
    every variable that changes from step to step (rows, state taps, carried
    states).  Only nodes involving a product are moved out: elementwise work
    alone is cheaper per step than stored as a sequence.
    """
    from nnframe.core.ops.blas import Dot
    from nnframe.core.types import TensorType
    varying = {id(v) for v in loop_vars}
    for node in toposort(exprs):
        if not node.op.do_constant_folding or any(id(i) in varying for i in node.inputs):
            varying.update(id(o) for o in node.outputs)
    outer_of = {id(r): s for r, s in zip(seq_rows, outer_seqs)}
    pushed = {}        # id(inner var) -> its whole-sequence version
    has_product = {}   # id(inner var) -> whether a product is among the work it stands for

    def is_row(v):
        return id(v) in outer_of or id(v) in pushed

    def is_invariant(v):
        return isinstance(v, Constant) or id(v) not in varying

    for node in toposort(exprs):
        build = _pushable(node, is_row, is_invariant)
        if build is None:
            continue
        outer_ins = [pushed.get(id(v), outer_of.get(id(v), v)) for v in node.inputs]
        out = node.outputs[0]
        try:
            whole = build(node, [_lift(v, node, o) for v, o in zip(node.inputs, outer_ins)])
        except (TypeError, ValueError):
            continue
        row_type = TensorType(whole.dtype, whole.type.shape[1:])
        if whole.ndim != out.ndim + 1 or not out.type.is_super(row_type):
            continue
        pushed[id(out)] = whole
        has_product[id(out)] = isinstance(node.op, Dot) or any(
            has_product.get(id(v), False) for v in node.inputs)
    # What the loop still reads of the moved work becomes new sequences.
    moved = {id(v): v for node in toposort(exprs) for v in node.outputs if id(v) in pushed}
    read = values_read(exprs, moved, lambda node: id(node.outputs[0]) in pushed)
    chosen = [v for v in read.values() if has_product[id(v)]]
    if not chosen:
        return exprs, [], []
    new_rows = [v.type(f"{v.name or 'precomputed'}[t]") for v in chosen]
    exprs = clone_replace(exprs, dict(zip(chosen, new_rows)))
    return exprs, new_rows, [pushed[id(v)] for v in chosen]


def _lift(inner, node, outer):
    """An invariant input of an elementwise node, given a leading (step) axis to broadcast."""
    from nnframe.core.ops.elemwise import Elemwise
    from nnframe.core.ops.shape import dimshuffle
    if outer is not inner or not isinstance(node.op, Elemwise):
        return outer       # a whole sequence already, or a Dot/DimShuffle argument
    return dimshuffle(inner, ["x"] + list(range(inner.ndim)))
