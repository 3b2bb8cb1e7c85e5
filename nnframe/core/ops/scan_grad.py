"""The gradient of a Scan: another Scan, running backwards over the stored states.

Step ``t`` of the forward loop read rows of its sequences, taps of its
recurrent states (``Y[t + L + tap]``) and the non-sequences, and wrote the new
state row ``Y[t + L]``.  Going backwards (``t = n-1 .. 0``) the backward loop

1. recomputes step ``t`` from the stored rows (sequences and state buffers are
   its sequences; the backward Scan runs them last row first, ``backwards=True``) and differentiates it with ``T.grad``, given the
   gradient reaching the new state row: the direct one (``dY[t + L]``, from
   whatever read the scan's output) plus what later steps sent back;
2. sends the gradient of each tap ``Y[t + L + tap]`` back: an accumulator of
   ``L`` rows per state holds what is pending for the rows still to come
   (row ``j``: the gradient for ``Y[t + L - 1 - j]``), shifted by one each step;
3. adds the non-sequences' gradients into accumulators, and emits the
   sequences' rows' gradients as collected outputs.

The accumulators are carried states, so the backward Scan is an ordinary Scan
and differentiating it again (second order) uses this same code.  Carried
states of the forward loop that the gradient needs (a shared variable updated
in the step, a random state the step reads) are recomputed with their traces
first.  ``truncate_gradient = k`` runs the backward loop over the last ``k``
steps only.
"""
from nnframe.core.graph import Constant, ancestors
from nnframe.core.types import is_float

__all__ = ["scan_grad"]


def scan_grad(op, inputs, outputs, output_grads):
    """``L_op`` of a Scan node: one gradient (or None) per outer input."""
    if op.backwards:
        return _grad_of_backwards(op, inputs, output_grads)
    n_states = op.n_states
    g_states = list(output_grads[:n_states])
    g_carried = list(output_grads[n_states:n_states + op.n_carried])
    g_collected = list(output_grads[n_states + op.n_carried:])
    traced = _carried_needing_traces(op, g_states, g_carried, g_collected)
    if traced:
        return _grad_with_traces(op, inputs, output_grads, traced)
    return _backward_scan(op, inputs, outputs, g_states, g_collected)


def _carried_needing_traces(op, g_states, g_carried, g_collected):
    """Indices of carried states whose per-step values the gradient needs."""
    out_states, out_carried, out_collected, _ = op.inner_output_groups()
    _, _, in_carried, _ = op.inner_groups()
    roots = [o for o in out_states if is_float(o.dtype)]
    roots += [o for o, g in zip(out_collected, g_collected) if g is not None and is_float(o.dtype)]
    needed = {c for c, g in enumerate(g_carried) if g is not None and is_float(in_carried[c].dtype)}
    while True:
        read = {id(v) for v in ancestors(roots + [out_carried[c] for c in needed])}
        more = {c for c, v in enumerate(in_carried) if id(v) in read} - needed
        if not more:
            return sorted(needed)
        needed |= more


def _grad_with_traces(op, inputs, output_grads, traced):
    """The gradient through a copy of the loop where the carried states ``traced`` keep
    their traces (they become recurrent states with the tap -1)."""
    from nnframe.core.ops.elemwise import zeros_like
    from nnframe.core.ops.scan import Scan
    from nnframe.core.ops.subtensor import set_subtensor
    from nnframe.tensor.basic import shape_padleft
    n, seqs, inits, carried_inits, nonseqs = op.outer_groups(inputs)
    in_seqs, in_taps, in_carried, in_nonseqs = op.inner_groups()
    out_states, out_carried, out_collected, _ = op.inner_output_groups()
    kept = [c for c in range(op.n_carried) if c not in traced]
    new_op = Scan(
        in_seqs + [v for taps in in_taps for v in taps] + [in_carried[c] for c in traced]
        + [in_carried[c] for c in kept] + in_nonseqs,
        out_states + [out_carried[c] for c in traced] + [out_carried[c] for c in kept]
        + out_collected,
        op.n_seqs, op.state_taps + ((-1,),) * len(traced), len(kept), op.n_collected,
        truncate_gradient=op.truncate_gradient, name=op.name, seq_info=op.seq_info)
    new_outer = ([n, *seqs, *inits, *[shape_padleft(carried_inits[c]) for c in traced],
                  *[carried_inits[c] for c in kept], *nonseqs])
    node = new_op.make_node(*new_outer)
    n_states = op.n_states
    g_carried = output_grads[n_states:n_states + op.n_carried]
    new_grads = list(output_grads[:n_states])
    for j, c in enumerate(traced):
        g = g_carried[c]
        buf = node.outputs[n_states + j]
        new_grads.append(None if g is None else set_subtensor(zeros_like(buf)[-1], g))
    new_grads += [g_carried[c] for c in kept]
    new_grads += list(output_grads[n_states + op.n_carried:])
    grads = scan_grad(new_op, node.inputs, node.outputs, new_grads)
    # Map back: n, seqs and initial rows as they are; a traced state's initial row is its
    # carried initial value with a leading axis.
    a = 1 + op.n_seqs + n_states
    result = list(grads[:a])
    traced_grads = dict(zip(traced, grads[a:a + len(traced)]))
    kept_grads = dict(zip(kept, grads[a + len(traced):a + len(traced) + len(kept)]))
    for c in range(op.n_carried):
        g = traced_grads[c] if c in traced_grads else kept_grads[c]
        result.append(g[0] if c in traced_grads and g is not None else g)
    result += list(grads[a + len(traced) + len(kept):])
    return result


def _sum_known(known, var, g):
    """Add ``g`` to the gradient ``known`` holds for ``var`` (a step may return the same
    variable as two outputs)."""
    if isinstance(var, Constant):
        return
    key = id(var)
    known[key] = (var, g if key not in known else known[key][1] + g)


class _BackwardStep:
    """The backward step of ``op`` as a graph over the forward step's inner variables.

    ``grad_rows[k]``: the direct gradient of state ``k``'s new row (a sequence of
    the backward loop, when the state's output has one); ``acc[k]``: its
    pending-gradient accumulator (carried); ``collected_rows[i]``: the gradient
    of collected output ``i``'s row; ``d_seqs``, ``d_taps[k][tap]``,
    ``d_nonseqs``: the step's gradients of its sequence rows, state taps and
    non-sequences (None where disconnected); ``new_acc[k]``: the accumulator
    passed to the previous step.
    """

    def __init__(self, op, g_states, g_collected):
        from nnframe.core.gradient import grad
        from nnframe.core.types import TensorType
        in_seqs, in_taps, _, in_nonseqs = op.inner_groups()
        out_states, _, out_collected, _ = op.inner_output_groups()
        lags = op.state_lags
        self.float_states = [k for k, o in enumerate(out_states) if is_float(o.dtype)]
        self.grad_rows = {k: in_taps[k][0].type() for k in self.float_states
                          if g_states[k] is not None}
        self.acc = {k: (in_taps[k][0].type() if lags[k] == 1 else
                        TensorType(out_states[k].dtype, (None,) + in_taps[k][0].type.shape)())
                    for k in self.float_states}
        self.collected = [i for i, g in enumerate(g_collected)
                          if g is not None and is_float(out_collected[i].dtype)]
        self.collected_rows = {i: out_collected[i].type() for i in self.collected}
        # What reaches each output of step t: a state's new row gets its direct gradient plus
        # what later steps sent back (the accumulator's row 0).
        known = {}
        for k in self.float_states:
            pending = self.acc[k] if lags[k] == 1 else self.acc[k][0]
            total = pending + self.grad_rows[k] if k in self.grad_rows else pending
            _sum_known(known, out_states[k], total)
        for i in self.collected:
            _sum_known(known, out_collected[i], self.collected_rows[i])
        wrt_seqs = [j for j, v in enumerate(in_seqs) if is_float(v.dtype)]
        wrt_nonseqs = [q for q, v in enumerate(in_nonseqs) if is_float(v.dtype)]
        wrt = ([in_seqs[j] for j in wrt_seqs] + [v for k in self.float_states for v in in_taps[k]]
               + [in_nonseqs[q] for q in wrt_nonseqs])
        self.empty = not wrt or not known
        if self.empty:
            return
        grads = grad(None, wrt, disconnected_inputs="ignore", return_disconnected="None",
                     known_grads=dict(known.values()))
        self.d_seqs = dict(zip(wrt_seqs, grads[:len(wrt_seqs)]))
        pos = len(wrt_seqs)
        self.d_taps = {}
        for k in self.float_states:
            self.d_taps[k] = dict(zip(op.state_taps[k], grads[pos:pos + len(in_taps[k])]))
            pos += len(in_taps[k])
        self.d_nonseqs = dict(zip(wrt_nonseqs, grads[pos:]))
        self.new_acc = {k: self._shifted(k, lags[k], in_taps[k][0]) for k in self.float_states}

    def _shifted(self, k, lag, row):
        """The accumulator for step t-1: row j is what is pending for ``Y[t+L-2-j]``: the
        previous accumulator's row j+1 plus this step's gradient of tap -(j+1)."""
        from nnframe.core.ops.elemwise import zeros_like
        from nnframe.core.ops.shape import concatenate, stack
        back = [self.d_taps[k].get(-(j + 1)) for j in range(lag)]
        back = [zeros_like(row) if d is None else d for d in back]
        if lag == 1:
            return back[0]
        acc = self.acc[k]
        return concatenate([acc[1:], zeros_like(acc[:1])]) + stack(back)


def _backward_scan(op, inputs, outputs, g_states, g_collected):
    """The backward loop of ``op`` and the outer inputs' gradients (see the module docstring)."""
    from nnframe.core.ops.elemwise import minimum, zeros_like
    from nnframe.core.ops.scan import Scan
    from nnframe.core.variable import constant

    n, seqs, _, _, nonseqs = op.outer_groups(inputs)
    in_seqs, in_taps, _, in_nonseqs = op.inner_groups()
    lags = op.state_lags
    step = _BackwardStep(op, g_states, g_collected)
    if step.empty:
        return [None] * len(inputs)
    float_states = step.float_states
    row_of, products = _row_products(op, step.d_nonseqs)
    nonseq_acc = {q: in_nonseqs[q].type() for q, d in step.d_nonseqs.items()
                  if d is not None and q not in products}
    seq_outputs = [j for j, d in step.d_seqs.items() if d is not None]
    product_values = []
    for _, b in products.values():
        if (all(b is not v for v in product_values)
                and all(b is not step.d_seqs[j] for j in seq_outputs)):
            product_values.append(b)

    # -- the backward loop over the last m steps (it reads their rows last first) --------
    m = n if op.truncate_gradient < 0 else minimum(n, constant(op.truncate_gradient,
                                                                dtype=n.dtype))
    first = n - m

    def rows(x, offset):
        """Rows ``offset + first .. offset + n - 1`` of ``x``."""
        return x[offset + first:offset + n]

    back_outputs = ([step.new_acc[k] for k in float_states]
                    + [nonseq_acc[q] + step.d_nonseqs[q] for q in nonseq_acc]
                    + [step.d_seqs[j] for j in seq_outputs] + product_values)
    outputs, stored_inner, stored_outer, back_outputs = _store_intermediates(
        op, inputs, outputs, back_outputs)
    buffers = outputs[:op.n_states]
    # Sequences of the backward loop: the forward sequences' rows, every state's tap rows
    # (the step may read an integer state too), the direct gradients, the stored values.
    other_states = [k for k in range(op.n_states) if k not in float_states]
    tapped = float_states + other_states
    outer_seqs = ([rows(s, 0) for s in seqs]
                  + [rows(buffers[k], lags[k] + tap) for k in tapped for tap in op.state_taps[k]]
                  + [rows(g_states[k], lags[k]) for k in float_states if k in step.grad_rows]
                  + [rows(g_collected[i], 0) for i in step.collected]
                  + [rows(x, offset) for x, offset in stored_outer])
    inner_seqs = (list(in_seqs) + [v for k in tapped for v in in_taps[k]]
                  + [step.grad_rows[k] for k in float_states if k in step.grad_rows]
                  + [step.collected_rows[i] for i in step.collected] + stored_inner)
    acc_inits = [zeros_like(buffers[k][0]) if lags[k] == 1 else zeros_like(buffers[k][:lags[k]])
                 for k in float_states]
    back_op = Scan(
        inner_seqs + [step.acc[k] for k in float_states] + list(nonseq_acc.values())
        + list(in_nonseqs),
        back_outputs,
        len(inner_seqs), (), len(float_states) + len(nonseq_acc),
        len(seq_outputs) + len(product_values),
        name=f"grad_of_{op.name}",
        seq_info=[f"backward rows {j}" for j in range(len(inner_seqs))], backwards=True)
    outs = back_op.make_node(m, *outer_seqs, *acc_inits,
                             *[zeros_like(nonseqs[q]) for q in nonseq_acc], *nonseqs).outputs
    acc_final = dict(zip(float_states, outs[:len(float_states)]))
    nonseq_final = dict(zip(nonseq_acc, outs[len(float_states):len(float_states) + len(nonseq_acc)]))
    collected_outs = outs[len(float_states) + len(nonseq_acc):]
    seq_grads = dict(zip(seq_outputs, collected_outs))
    values_of = {id(step.d_seqs[j]): g for j, g in seq_grads.items()}
    values_of.update((id(b), g) for b, g in zip(product_values,
                                                   collected_outs[len(seq_outputs):]))
    for q, (a, b) in products.items():
        kind, index, offset = row_of[id(a)]
        source = seqs[index] if kind == "seq" else buffers[index]
        nonseq_final[q] = _product_of_rows(rows(source, offset), values_of[id(b)])
    return _outer_gradients(op, inputs, g_states, seq_grads, acc_final, nonseq_final, first)


def _row_products(op, d_nonseqs):
    """``(row_of, products)``: non-sequences whose step gradient is ``dot(a.T, b)`` of a row
    ``a`` the loop reads and a per-step ``b`` (the W of ``dot(h, W)``).

    Their gradient is one large product after the loop, of the rows and the collected
    ``b``, not a sum grown step by step.  ``row_of[id(a)]`` is ``(kind, index, offset)``:
    rows ``offset + t`` of sequence ``index`` or of state ``index``'s buffer.
    """
    in_seqs, in_taps, _, _ = op.inner_groups()
    lags = op.state_lags
    row_of = {id(v): ("seq", j, 0) for j, v in enumerate(in_seqs)}
    for k in range(op.n_states):
        for tap, v in zip(op.state_taps[k], in_taps[k]):
            row_of[id(v)] = ("state", k, lags[k] + tap)
    products = {}
    for q, d in d_nonseqs.items():
        factors = _row_product(d, row_of)
        if factors is not None:
            products[q] = factors
    return row_of, products


def _outer_gradients(op, inputs, g_states, seq_grads, acc_final, nonseq_final, first):
    """One gradient (or None) per outer input of ``op``, from the backward loop's results."""
    from nnframe.core.ops.elemwise import switch, zeros_like
    from nnframe.core.ops.scan import is_row_count
    from nnframe.core.ops.subtensor import set_subtensor
    n, seqs, _, _, nonseqs = op.outer_groups(inputs)
    lags = op.state_lags
    result = [None]
    for j, s in enumerate(seqs):
        if j not in seq_grads:
            result.append(None)
        elif op.truncate_gradient < 0 and is_row_count(n, s):
            result.append(seq_grads[j])
        else:
            result.append(set_subtensor(zeros_like(s)[first:n], seq_grads[j]))
    for k in range(op.n_states):
        direct = g_states[k][:lags[k]] if g_states[k] is not None else None
        if k not in acc_final:
            result.append(direct)
            continue
        from_loop = acc_final[k][None] if lags[k] == 1 else acc_final[k][::-1]
        if op.truncate_gradient >= 0:
            # Truncated: the loop's pending gradients belong to rows it did not reach.
            from_loop = switch(first > 0, zeros_like(from_loop), from_loop)
        result.append(from_loop if direct is None else direct + from_loop)
    result += [None] * op.n_carried
    result += [nonseq_final.get(q) for q in range(len(nonseqs))]
    return result


#: Ops whose results are views or shape arithmetic: recomputing them costs nothing, so the
#: backward step recomputes them from stored values rather than storing them too.
def _is_cheap(node):
    from nnframe.core.ops.shape import DimShuffle, Reshape, Shape, ShapeI, SpecifyShape
    from nnframe.core.ops.subtensor import Subtensor
    return isinstance(node.op, (DimShuffle, Reshape, Shape, ShapeI, SpecifyShape, Subtensor))


def _store_intermediates(op, inputs, outputs, back_outputs):
    """Let the backward step read the forward step's values instead of recomputing them.

    The backward step, as ``T.grad`` builds it, recomputes the forward step
    (the gate activations of an LSTM, a ``dot(h, W)``).  The forward values it
    reads are taken from the forward loop instead: the new state rows from the
    state buffers, other values from a copy of the forward loop that also
    collects them (``Scan.extends`` names the loop it extends; the ``scan``
    rewrite makes the copy replace the original, so the loop runs once).

    Returns ``(forward_outputs, inner_rows, outer_sources, back_outputs)``:
    the forward outputs to read (the copy's, when there is one), the backward
    step's new sequence rows, ``(outer, offset)`` for each (rows
    ``offset + t`` of ``outer``), and the backward step rewired to them.
    """
    from nnframe.core.graph import clone_replace, toposort
    from nnframe.core.ops.scan import Scan, values_read
    forward_nodes = toposort(op.inner_outputs)
    computed = {id(o): o for node in forward_nodes for o in node.outputs}
    producers = {id(o): node for node in forward_nodes for o in node.outputs}
    forward_ids = {id(node) for node in forward_nodes}
    read = values_read(back_outputs, computed, lambda node: id(node) in forward_ids)
    # Views of forward values: store what they view, recompute the view.
    needed, stack = {}, list(read.values())
    while stack:
        v = stack.pop()
        node = producers[id(v)]
        if _is_cheap(node):
            stack += [i for i in node.inputs if id(i) in computed and id(i) not in needed]
        else:
            needed[id(v)] = v
    if not needed:
        return outputs, [], [], back_outputs
    out_states, out_carried, out_collected, until = op.inner_output_groups()
    state_of = {id(o): k for k, o in enumerate(out_states)}
    collected_of = {id(o): i for i, o in enumerate(out_collected)}
    lags = op.state_lags
    to_collect = [v for v in needed.values() if id(v) not in state_of and id(v) not in collected_of]
    if to_collect:
        extended = Scan(op.inner_inputs, out_states + out_carried + out_collected + to_collect,
                        op.n_seqs, op.state_taps, op.n_carried, op.n_collected + len(to_collect),
                        truncate_gradient=op.truncate_gradient, name=op.name,
                        seq_info=op.seq_info)
        extended.extends = op
        outputs = extended.make_node(*inputs).outputs
    n_out = op.n_states + op.n_carried
    collected_outputs = outputs[n_out:n_out + op.n_collected]
    stored = outputs[n_out + op.n_collected:]
    inner_rows, sources, replace = [], [], {}
    for v in needed.values():
        row = v.type(f"{op.name}.stored")
        if id(v) in state_of:
            k = state_of[id(v)]
            sources.append((outputs[k], lags[k]))
        elif id(v) in collected_of:
            sources.append((collected_outputs[collected_of[id(v)]], 0))
        else:
            sources.append((stored[to_collect.index(v)], 0))
        inner_rows.append(row)
        replace[v] = row
    return outputs[:len(outputs) - len(stored)], inner_rows, sources, clone_replace(
        back_outputs, replace)


def _grad_of_backwards(op, inputs, output_grads):
    """The gradient of a loop running backwards (a gradient loop, differentiated again): the
    same loop running forwards over the reversed rows, differentiated by ``T.grad``."""
    from nnframe.core.gradient import grad
    from nnframe.core.graph import clone_replace
    from nnframe.core.ops.scan import Scan
    # Placeholders for the inputs: T.grad must stop at them, not walk on into the graphs
    # that compute them (the caller's T.grad does that, once).
    placeholders = [v.type() for v in inputs]
    n, seqs, _, carried_inits, nonseqs = op.outer_groups(placeholders)
    forward = Scan(op.inner_inputs, op.inner_outputs, op.n_seqs, (), op.n_carried,
                   op.n_collected, truncate_gradient=op.truncate_gradient, name=op.name,
                   seq_info=op.seq_info)
    outs = forward(n, *[s[:n][::-1] for s in seqs], *carried_inits, *nonseqs)
    outs = outs if isinstance(outs, list) else [outs]
    same = outs[:op.n_carried] + [c[::-1] for c in outs[op.n_carried:]]
    known = {o: g for o, g in zip(same, output_grads) if g is not None}
    wanted = [k for k, v in enumerate(inputs) if k > 0 and is_float(v.dtype)]
    grads = grad(None, [placeholders[k] for k in wanted], known_grads=known,
                 disconnected_inputs="ignore", return_disconnected="None")
    found = [(k, g) for k, g in zip(wanted, grads) if g is not None]
    values = clone_replace([g for _, g in found], dict(zip(placeholders, inputs)))
    result = [None] * len(inputs)
    for (k, _), g in zip(found, values):
        result[k] = g
    return result


def _row_product(d, row_of):
    """``(a, b)`` when the step's gradient ``d`` is ``dot(a.T, b)`` for a matrix row ``a``
    the loop reads (an entry of ``row_of``) and a matrix ``b``; else None."""
    from nnframe.core.ops.blas import Dot
    from nnframe.core.ops.shape import DimShuffle
    if d is None or d.owner is None or not isinstance(d.owner.op, Dot):
        return None
    t, b = d.owner.inputs
    if (t.owner is None or not isinstance(t.owner.op, DimShuffle)
            or tuple(t.owner.op.new_order) != (1, 0)):
        return None
    a = t.owner.inputs[0]
    if id(a) not in row_of or b.ndim != 2:
        return None
    return a, b


def _product_of_rows(a_rows, b_rows):
    """``sum_t a_rows[t].T @ b_rows[t]`` as one product of the rows stacked."""
    from nnframe.core.ops.blas import dot
    from nnframe.core.ops.shape import reshape, shape_i, stack
    flat_a = reshape(a_rows, stack([shape_i(a_rows, 0) * shape_i(a_rows, 1), shape_i(a_rows, 2)]),
                     ndim=2)
    flat_b = reshape(b_rows, stack([shape_i(b_rows, 0) * shape_i(b_rows, 1), shape_i(b_rows, 2)]),
                     ndim=2)
    return dot(flat_a.T, flat_b)
