"""FunctionGraph: the graph a compiled function runs, with its leaves and outputs.

It owns the Apply nodes between its leaves (inputs, shared variables,
constants) and its outputs, knows each Variable's clients, lets rewrites
replace one Variable by another, and schedules the nodes.  ``f.maker.fgraph``
is this object.

In-place Ops declare ``destroy_map = {output: [input]}``: they overwrite that
input's buffer.  The schedule then runs every other reader of that buffer
(of the variable, or of any view of it) before the destroyer, and
:meth:`FunctionGraph.can_destroy` tells rewrites when an in-place version
would be wrong.
"""
from collections import defaultdict

from nnframe.core.graph import Constant, toposort

__all__ = ["FunctionGraph", "CycleError"]


class CycleError(RuntimeError):
    """The ordering constraints of in-place Ops cannot all be met."""


class FunctionGraph:
    """The nodes computing ``outputs`` from ``inputs`` (leaves)."""

    def __init__(self, inputs, outputs):
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        #: leaves whose buffers may be overwritten (shared variables whose
        #: only use is to be replaced by their update); set by function()
        self.destroyable_leaves = set()
        self._order = None

    # -- structure --------------------------------------------------------------------
    def nodes(self):
        """The Apply nodes, each after the nodes computing its inputs."""
        return toposort(self.outputs)

    def toposort(self):
        """The execution order: data dependencies plus in-place constraints."""
        if self._order is None:
            self._order = self._schedule()
        return self._order

    @property
    def apply_nodes(self):
        return self.toposort()

    def clients(self):
        """``{id(variable): [(node, input_index), ...]}`` (output k is ``('output', k)``)."""
        result = defaultdict(list)
        for node in self.nodes():
            for i, inp in enumerate(node.inputs):
                result[id(inp)].append((node, i))
        for k, out in enumerate(self.outputs):
            result[id(out)].append(("output", k))
        return result

    def replace(self, old, new, reason=None):
        """Make every use of ``old`` (nodes and outputs) use ``new`` instead."""
        if old is new:
            return
        if old.type != new.type and not old.type.is_super(new.type):
            raise TypeError(f"rewrite {reason or ''}: cannot replace {old} ({old.type}) by "
                            f"{new} ({new.type})")
        if old.owner is not None and new.owner is not None and not new.owner.tag.get("site"):
            new.owner.tag["site"] = old.owner.tag.get("site")
        for node in self.nodes():
            if any(i is old for i in node.inputs):
                node.inputs = [new if i is old else i for i in node.inputs]
        self.outputs = [new if o is old else o for o in self.outputs]
        self._order = None

    def replace_all(self, pairs, reason=None):
        for old, new in pairs:
            self.replace(old, new, reason)

    # -- aliasing and in-place safety ---------------------------------------------------
    def alias_roots(self, var, cache=None):
        """Ids of the variables whose buffers ``var`` is a view of (through ``view_map``).

        The output of an in-place Op counts as a new buffer: it holds a new
        value, and whoever reads it depends on that Op anyway.
        """
        cache = {} if cache is None else cache
        key = id(var)
        if key not in cache:
            node = var.owner
            viewed = node.op.view_map.get(var.index) if node is not None else None
            if viewed:
                roots = set()
                for j in viewed:
                    roots |= self.alias_roots(node.inputs[j], cache)
            else:
                roots = {key}
            cache[key] = roots
        return cache[key]

    def buffer_roots(self, var, cache=None):
        """Ids of the variables whose *memory* ``var`` may occupy.

        Unlike :meth:`alias_roots`, this follows in-place writes too: the
        output of an in-place Op lives in its input's buffer.
        """
        cache = {} if cache is None else cache
        key = id(var)
        if key not in cache:
            node = var.owner
            shared_with = None
            if node is not None:
                shared_with = (node.op.view_map.get(var.index) or
                               getattr(node.op, "destroy_map", {}).get(var.index))
            if shared_with:
                roots = set()
                for j in shared_with:
                    roots |= self.buffer_roots(node.inputs[j], cache)
            else:
                roots = {key}
            cache[key] = roots
        return cache[key]

    def can_destroy(self, node, index):
        """May ``node`` overwrite the buffer of its input ``index``?

        Not when that buffer belongs to a leaf (a caller's array, a constant,
        or a shared variable other than one marked destroyable), when an
        output or update value may share it, or when it is already destroyed
        by another node; and only if the schedule can still put every other
        reader of it first.
        """
        cache = {}
        var = node.inputs[index]
        roots = self.alias_roots(var, cache)
        leaves = {id(v) for v in self.inputs}
        constants = {id(i) for n in self.nodes() for i in n.inputs if isinstance(i, Constant)}
        for root in roots:
            if root in constants or (root in leaves and root not in self.destroyable_leaves):
                return False
        for out in self.outputs:
            if self.alias_roots(out, cache) & roots:
                return False
        for other in self.nodes():
            for _o, ins in getattr(other.op, "destroy_map", {}).items():
                for j in ins:
                    if other is not node and self.alias_roots(other.inputs[j], cache) & roots:
                        return False
        return self._schedulable(extra=(node, roots))

    def _readers(self, roots, cache, nodes):
        """Nodes reading any variable that shares a buffer with ``roots``."""
        return [n for n in nodes
                if any(self.alias_roots(i, cache) & roots for i in n.inputs)]

    def _schedulable(self, extra=None):
        try:
            self._schedule(extra)
            return True
        except CycleError:
            return False

    def _schedule(self, extra=None):
        nodes = self.nodes()
        cache = {}
        after = defaultdict(set)          # node id -> ids of nodes that must run first
        index = {id(n): n for n in nodes}
        for n in nodes:
            for i in n.inputs:
                if i.owner is not None and id(i.owner) in index:
                    after[id(n)].add(id(i.owner))
        destroyers = [(n, set().union(*(self.alias_roots(n.inputs[j], cache)
                                         for j in ins)))
                      for n in nodes for ins in getattr(n.op, "destroy_map", {}).values()]
        if extra is not None:
            destroyers.append(extra)
        for destroyer, roots in destroyers:
            for reader in self._readers(roots, cache, nodes):
                if reader is not destroyer:
                    after[id(destroyer)].add(id(reader))
        # Kahn's algorithm, keeping the data order where nothing forces otherwise.
        position = {id(n): k for k, n in enumerate(nodes)}
        waiting = {id(n): len(after[id(n)]) for n in nodes}
        users = defaultdict(list)
        for n in nodes:
            for before in after[id(n)]:
                users[before].append(id(n))
        import heapq
        ready = [position[k] for k, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            node = nodes[heapq.heappop(ready)]
            order.append(node)
            for user in users[id(node)]:
                waiting[user] -= 1
                if waiting[user] == 0:
                    heapq.heappush(ready, position[user])
        if len(order) != len(nodes):
            raise CycleError("in-place operations make the schedule impossible")
        return order

    def __repr__(self):
        return f"FunctionGraph({len(self.nodes())} nodes, {len(self.outputs)} outputs)"
