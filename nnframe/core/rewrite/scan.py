"""Scan rewrites: one loop where the gradient made two.

The gradient of a Scan reads values of the forward step from a copy of the
forward loop that also collects them (``op.extends`` is the loop it copies;
see nnframe/core/ops/scan_grad.py).  When a function computes both the loop's
outputs and its gradient, this pass makes the copy serve both, so the loop
runs once.  Then the loops lose the outputs nothing reads (a gradient loop
computes the gradient of every input of its forward loop; a function wants
some).
"""
from nnframe.core.ops.scan import Scan

__all__ = ["merge_extended_scans", "prune_scan_outputs", "scan_rewrites"]


def merge_extended_scans(fgraph):
    """Replace each Scan node by a node of a loop extending it on the same inputs;
    returns the number replaced."""
    nodes = [node for node in fgraph.nodes() if isinstance(node.op, Scan)]
    by_key = {(id(node.op), tuple(id(i) for i in node.inputs)): node for node in nodes}
    count = 0
    for node in nodes:
        base = getattr(node.op, "extends", None)
        while base is not None:
            original = by_key.get((id(base), tuple(id(i) for i in node.inputs)))
            if original is not None and original is not node:
                fgraph.replace_all(zip(original.outputs, node.outputs),
                                   reason="merge_extended_scans")
                count += 1
            base = getattr(base, "extends", None)
    return count


def prune_scan_outputs(fgraph):
    """Drop the outputs of Scan nodes that nothing reads, and the inputs the rest does not need.

    A gradient loop computes the gradients of every input of its forward loop;
    the function usually wants some.  A collected output or a carried state
    whose final value is unused goes, a recurrent state too when its buffer is
    unused and no kept output reads its taps; then the inner computations
    only they needed, and the sequences and non-sequences nothing reads.
    Returns the number of nodes rebuilt.
    """
    count = 0
    while True:
        # Last loops first: pruning a gradient loop can leave outputs of its forward loop
        # unread (values it stored for the gradient), so the clients are counted again.
        clients = fgraph.clients()
        for node in reversed(fgraph.toposort()):
            if not isinstance(node.op, Scan):
                continue
            new = _pruned(node, [bool(clients.get(id(o))) for o in node.outputs])
            if new is not None:
                fgraph.replace_all([(old, rep) for old, rep in zip(node.outputs, new)
                                    if rep is not None], reason="prune_scan_outputs")
                count += 1
                break
        else:
            return count


def _pruned(node, used):
    """The outputs of a smaller Scan node (None where dropped), or None if nothing goes."""
    from nnframe.core.graph import ancestors
    op = node.op
    n, seqs, inits, carried_inits, nonseqs = op.outer_groups(node.inputs)
    in_seqs, in_taps, in_carried, in_nonseqs = op.inner_groups()
    out_states, out_carried, out_collected, until = op.inner_output_groups()
    S, C = op.n_states, op.n_carried
    keep_states = {k for k in range(S) if used[k]}
    keep_carried = {c for c in range(C) if used[S + c]}
    keep_collected = [i for i in range(op.n_collected) if used[S + C + i]]
    while True:
        roots = ([out_states[k] for k in keep_states] + [out_carried[c] for c in keep_carried]
                 + [out_collected[i] for i in keep_collected] + ([until] if until is not None else []))
        read = {id(v) for v in ancestors(roots)}
        more_states = {k for k in range(S) if any(id(v) in read for v in in_taps[k])}
        more_carried = {c for c in range(C) if id(in_carried[c]) in read}
        if more_states <= keep_states and more_carried <= keep_carried:
            break
        keep_states |= more_states
        keep_carried |= more_carried
    keep_seqs = [j for j, v in enumerate(in_seqs) if id(v) in read]
    keep_nonseqs = [q for q, v in enumerate(in_nonseqs) if id(v) in read]
    if (len(keep_states) == S and len(keep_carried) == C
            and len(keep_collected) == op.n_collected and len(keep_seqs) == op.n_seqs
            and len(keep_nonseqs) == len(in_nonseqs)):
        return None
    states, carried = sorted(keep_states), sorted(keep_carried)
    new_op = Scan(
        [in_seqs[j] for j in keep_seqs] + [v for k in states for v in in_taps[k]]
        + [in_carried[c] for c in carried] + [in_nonseqs[q] for q in keep_nonseqs],
        [out_states[k] for k in states] + [out_carried[c] for c in carried]
        + [out_collected[i] for i in keep_collected] + ([until] if until is not None else []),
        len(keep_seqs), [op.state_taps[k] for k in states], len(carried), len(keep_collected),
        has_until=op.has_until, truncate_gradient=op.truncate_gradient, name=op.name,
        seq_info=[op.seq_info[j] for j in keep_seqs], backwards=op.backwards)
    outs = new_op.make_node(n, *[seqs[j] for j in keep_seqs], *[inits[k] for k in states],
                            *[carried_inits[c] for c in carried],
                            *[nonseqs[q] for q in keep_nonseqs]).outputs
    result = [None] * len(node.outputs)
    for pos, k in enumerate(states):
        result[k] = outs[pos]
    for pos, c in enumerate(carried):
        result[S + c] = outs[len(states) + pos]
    for pos, i in enumerate(keep_collected):
        result[S + C + i] = outs[len(states) + len(carried) + pos]
    return result


def scan_rewrites(fgraph):
    """The pass of the pipeline: extended loops merged, then unused outputs pruned."""
    return merge_extended_scans(fgraph) + prune_scan_outputs(fgraph)
