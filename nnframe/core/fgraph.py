"""FunctionGraph: the graph a compiled function runs, with its leaves and outputs.

It owns the Apply nodes between its leaves (inputs, shared variables,
constants) and its outputs, knows each Variable's clients, and lets rewrites
replace one Variable by another.  ``f.maker.fgraph`` is this object.
"""
from nnframe.core.graph import toposort

__all__ = ["FunctionGraph"]


class FunctionGraph:
    """The nodes computing ``outputs`` from ``inputs`` (leaves)."""

    def __init__(self, inputs, outputs):
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self._order = None

    def toposort(self):
        """The Apply nodes in an order where each comes after its inputs' nodes."""
        if self._order is None:
            self._order = toposort(self.outputs)
        return self._order

    @property
    def apply_nodes(self):
        return self.toposort()

    def clients(self):
        """``{id(variable): [(node, input_index), ...]}`` (output k is ``('output', k)``)."""
        result = {}
        for node in self.toposort():
            for i, inp in enumerate(node.inputs):
                result.setdefault(id(inp), []).append((node, i))
        for k, out in enumerate(self.outputs):
            result.setdefault(id(out), []).append(("output", k))
        return result

    def replace(self, old, new):
        """Make every use of ``old`` (nodes and outputs) use ``new`` instead."""
        if old.type != new.type and not old.type.is_super(new.type):
            raise TypeError(f"cannot replace {old} ({old.type}) by {new} ({new.type})")
        for node in self.toposort():
            node.inputs = [new if i is old else i for i in node.inputs]
        self.outputs = [new if o is old else o for o in self.outputs]
        self._order = None

    def __repr__(self):
        return f"FunctionGraph({len(self.toposort())} nodes, {len(self.outputs)} outputs)"
