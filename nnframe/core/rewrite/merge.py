"""Merge: equal constants become one, and equal computations are done once.

Two Apply nodes merge when their Ops are equal (``__props__``) and their
inputs are the same Variables; constants merge when their values, dtypes and
types are equal.  Common subexpressions built twice (often by ``T.grad``) thus
run once.
"""
from nnframe.core.graph import Constant

__all__ = ["merge"]


def merge(fgraph):
    """Merge equal constants and equal nodes of ``fgraph``; returns the number merged."""
    count = 0
    constants = {}
    for node in fgraph.nodes():
        for i, inp in enumerate(node.inputs):
            if isinstance(inp, Constant):
                kept = constants.setdefault(inp.signature(), inp)
                if kept is not inp:
                    node.inputs[i] = kept
                    count += 1
    fgraph.outputs = [constants.get(o.signature(), o) if isinstance(o, Constant) else o
                      for o in fgraph.outputs]
    # One pass in data order: a node's inputs are rewired to the kept copies first, so a
    # node equal to an earlier one is recognised by (Op, input ids) and its outputs map to
    # the kept node's.
    seen = {}
    kept = {}   # id(output of a dropped node) -> the kept node's output
    for node in fgraph.nodes():
        if any(id(i) in kept for i in node.inputs):
            node.inputs = [kept.get(id(i), i) for i in node.inputs]
        key = (node.op, tuple(id(i) for i in node.inputs))
        other = seen.get(key)
        if other is None:
            seen[key] = node
            continue
        for old, new in zip(node.outputs, other.outputs):
            if old.type != new.type and not old.type.is_super(new.type):
                raise TypeError(f"merge: cannot replace {old} ({old.type}) by {new} ({new.type})")
            kept[id(old)] = new
        count += 1
    fgraph.outputs = [kept.get(id(o), o) for o in fgraph.outputs]
    fgraph._order = None
    return count
