"""Applying local rewrites: functions from one Apply node to its replacements.

A local rewrite looks at one node and returns replacement Variables for its
outputs (a list, one per output) or None.  :func:`local_rewrite` registers it
for the Op classes it looks at, so drivers only try relevant rewrites.

>>> from nnframe.core.ops.elemwise import Elemwise
>>> @local_rewrite(Elemwise)
... def useless_identity(node):
...     if node.op.scalar_op.name == "identity":
...         return [node.inputs[0]]
"""
import numpy as np

from nnframe.core.graph import Constant

__all__ = ["local_rewrite", "apply_local_rewrites", "constant_value", "scalar_op_name"]


def local_rewrite(*op_classes):
    """Mark a function as a local rewrite of nodes whose Op is one of ``op_classes``."""
    def deco(fn):
        fn.op_classes = op_classes
        return fn
    return deco


def _accepts(rewrite, node):
    return isinstance(node.op, rewrite.op_classes)


def apply_local_rewrites(fgraph, rewrites, max_rounds=50):
    """Apply ``rewrites`` to ``fgraph`` until none fires (at most ``max_rounds`` sweeps).

    Each replacement must have the type of what it replaces (or a more
    specific one); the first rewrite that fires on a node wins.  Returns the
    number of replacements made.
    """
    count = 0
    for _ in range(max_rounds):
        changed = False
        for node in fgraph.nodes():
            for rewrite in rewrites:
                if not _accepts(rewrite, node):
                    continue
                new = rewrite(node)
                if new is None:
                    continue
                pairs = [(old, rep) for old, rep in zip(node.outputs, new)
                         if rep is not None and rep is not old]
                if not pairs:
                    continue
                fgraph.replace_all(pairs, reason=rewrite.__name__)
                count += 1
                changed = True
                break
            if changed:
                break  # the node list is stale: sweep again
        if not changed:
            return count
    return count


def constant_value(var):
    """The value of ``var`` if it is a constant (seen through dimshuffles), else None."""
    from nnframe.core.ops.shape import DimShuffle
    while var.owner is not None and isinstance(var.owner.op, DimShuffle):
        var = var.owner.inputs[0]
    if isinstance(var, Constant):
        return var.data
    return None


def is_constant_value(var, value):
    """True if ``var`` is a constant whose entries all equal ``value``."""
    data = constant_value(var)
    return data is not None and data.size > 0 and bool(np.all(data == value))


def scalar_op_name(node):
    """The scalar-table name of an Elemwise node (None for other nodes)."""
    from nnframe.core.ops.elemwise import Elemwise
    if node is not None and isinstance(node.op, Elemwise):
        return node.op.scalar_op.name
    return None
