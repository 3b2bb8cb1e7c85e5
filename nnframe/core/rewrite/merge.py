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
    seen = {}
    for node in fgraph.nodes():
        key = (node.op, tuple(id(i) for i in node.inputs))
        other = seen.get(key)
        if other is None:
            seen[key] = node
            continue
        fgraph.replace_all(zip(node.outputs, other.outputs), reason="merge")
        count += 1
    fgraph._order = None
    return count
