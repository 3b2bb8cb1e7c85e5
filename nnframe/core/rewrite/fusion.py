"""Fusion: a connected group of elementwise nodes becomes one Composite node.

Starting from an elementwise node, the group takes in the elementwise nodes
producing its inputs as long as their results are used only inside the group
(and are not outputs of the function).  The group becomes
``Elemwise(Composite(...))`` over the group's outside inputs: one node to
schedule, no intermediate arrays escaping, and on the NumPy backend a kernel
that reuses its intermediate buffers (``out=``); the OpenCL backend turns it
into one generated kernel.
"""
from nnframe.core.ops.elemwise import Elemwise
from nnframe.core.ops.scalar import Composite

__all__ = ["fuse_elemwise"]


def _fusible(node, ndim):
    return (node is not None and isinstance(node.op, Elemwise) and node.op.inplace is None
            and node.outputs[0].ndim == ndim)


#: the most scalar steps one Composite holds: a longer chain is fused in pieces (its
#: description and evaluation are recursive, and one kernel of thousands of steps gains
#: nothing over a few)
MAX_STEPS = 128


def _steps(node):
    scalar_op = node.op.scalar_op
    return len(scalar_op.steps) if isinstance(scalar_op, Composite) else 1


def _group(sink, clients, outputs):
    """The nodes fused into ``sink``, in topological order."""
    members = [sink]
    member_ids = {id(sink)}
    size = _steps(sink)
    grew = True
    while grew:
        grew = False
        for node in list(members):
            for inp in node.inputs:
                producer = inp.owner
                if (not _fusible(producer, sink.outputs[0].ndim) or id(producer) in member_ids
                        or id(inp) in outputs or size + _steps(producer) > MAX_STEPS):
                    continue
                users = clients.get(id(inp), [])
                if all(user != "output" and id(user) in member_ids for user, _ in users):
                    members.append(producer)
                    member_ids.add(id(producer))
                    size += _steps(producer)
                    grew = True
    order = {id(n): k for k, n in enumerate(_topological(members))}
    return sorted(members, key=lambda n: order[id(n)])


def _topological(nodes):
    """``nodes``, each after those of them computing its inputs (a loop, not recursion:
    a chain of thousands of nodes must not reach Python's recursion limit)."""
    from nnframe.core.graph import toposort
    ids = {id(n) for n in nodes}
    return [n for n in toposort([o for n in nodes for o in n.outputs]) if id(n) in ids]


def _composite(members):
    """``(Composite, outside inputs)`` computing the last member's output."""
    produced = {}      # id(variable) -> value index
    inside = {id(node.outputs[0]) for node in members}
    inputs, input_index = [], {}
    steps, broadcastable = [], []
    for node in members:
        for inp in node.inputs:
            if id(inp) not in inside and id(inp) not in input_index:
                input_index[id(inp)] = len(inputs)
                inputs.append(inp)
    nin = len(inputs)
    for node in members:
        refs = [produced[id(i)] if id(i) in produced else input_index[id(i)]
                for i in node.inputs]
        op = node.op.scalar_op
        if isinstance(op, Composite):  # inline an already fused group
            base = nin + len(steps)
            remap = refs + [base + k for k in range(len(op.steps))]
            inner_bcast = op.value_broadcastable
            for k, (row, inner) in enumerate(op.steps):
                steps.append((row, tuple(remap[r] for r in inner)))
                broadcastable.append(inner_bcast[len(refs) + k] if inner_bcast
                                     else node.outputs[0].type.broadcastable)
        else:
            steps.append((op, tuple(refs)))
            broadcastable.append(node.outputs[0].type.broadcastable)
        produced[id(node.outputs[0])] = nin + len(steps) - 1
    values = [i.type.broadcastable for i in inputs] + broadcastable
    return Composite([i.dtype for i in inputs], steps, values), inputs


def fuse_elemwise(fgraph):
    """Fuse elementwise groups of ``fgraph``; returns the number of groups made."""
    count = 0
    changed = True
    while changed:
        changed = False
        clients = fgraph.clients()
        outputs = {id(o) for o in fgraph.outputs}
        for node in reversed(fgraph.nodes()):
            if not _fusible(node, node.outputs[0].ndim):
                continue
            members = _group(node, clients, outputs)
            if len(members) < 2:
                continue
            composite, inputs = _composite(members)
            new = Elemwise(composite)(*inputs)
            if new.type != node.outputs[0].type:
                continue
            fgraph.replace(node.outputs[0], new, reason="fusion")
            count += 1
            changed = True
            break
    return count
