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

    # Every change to the graph sets ``_order = None`` (rewrites do, through replace() or
    # directly): that also forgets the cached node list.
    @property
    def _order(self):
        return self._schedule_cache

    @_order.setter
    def _order(self, value):
        self._schedule_cache = value
        self._positions = None
        if value is None:
            self._nodes_cache = None
            self._analysis_cache = None

    def _analysis(self):
        """``(nodes, alias cache, constant ids, readers)`` of the graph as it is, kept until
        it changes; ``readers[root]``: the nodes reading a buffer with that root.  Making an
        Op in-place keeps them (aliases follow ``view_map``, not ``destroy_map``)."""
        if self._analysis_cache is None:
            nodes = self.nodes()
            cache = {}
            readers = defaultdict(list)
            for n in nodes:
                for root in set().union(*(self.alias_roots(i, cache) for i in n.inputs)):
                    readers[root].append(n)
            constants = {id(i) for n in nodes for i in n.inputs if isinstance(i, Constant)}
            self._analysis_cache = (nodes, cache, constants, readers)
        return self._analysis_cache

    # -- structure --------------------------------------------------------------------
    def nodes(self):
        """The Apply nodes, each after the nodes computing its inputs (a new list)."""
        if self._nodes_cache is None:
            self._nodes_cache = toposort(self.outputs)
        return list(self._nodes_cache)

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
        nodes, cache, constants, readers = self._analysis()
        var = node.inputs[index]
        roots = self.alias_roots(var, cache)
        leaves = {id(v) for v in self.inputs}
        for root in roots:
            if root in constants or (root in leaves and root not in self.destroyable_leaves):
                return False
        for out in self.outputs:
            if self.alias_roots(out, cache) & roots:
                return False
        for other in nodes:
            for _o, ins in getattr(other.op, "destroy_map", {}).items():
                for j in ins:
                    if other is not node and self.alias_roots(other.inputs[j], cache) & roots:
                        return False
        return self._order_allows(node, roots) or not self._runs_before_a_reader(node, roots)

    def _order_allows(self, node, roots):
        """Whether the current schedule already runs every other reader of ``roots`` before
        ``node`` (then ``node`` may overwrite them without another schedule)."""
        order = self.toposort()
        if self._positions is None:
            self._positions = {id(n): k for k, n in enumerate(order)}
        position = self._positions
        mine = position[id(node)]
        readers = self._analysis()[3]
        return all(position[id(r)] < mine for root in roots for r in readers.get(root, ())
                   if r is not node)

    def _runs_before_a_reader(self, node, roots):
        """Whether ``node`` must run before some other reader of ``roots`` (it reaches one
        through data or in-place ordering edges): then it cannot overwrite them."""
        self.toposort()
        users = self._users
        readers = {id(r) for root in roots for r in self._analysis()[3].get(root, ())
                   if r is not node}
        position = self._positions or {id(n): k for k, n in enumerate(self._schedule_cache)}
        self._positions = position
        last = max((position[r] for r in readers), default=-1)
        seen, stack = set(), [id(node)]
        while stack:
            current = stack.pop()
            for user in users.get(current, ()):
                if user in readers:
                    return True
                # Nodes after the last reader in a valid order cannot lead back to one.
                if user not in seen and position[user] < last:
                    seen.add(user)
                    stack.append(user)
        return False

    def destroyer_added(self, node):
        """Record that ``node``'s Op now overwrites an input (an in-place version was swapped
        in, inputs and outputs unchanged): the schedule is kept when it still holds."""
        cache = self._analysis()[1]
        roots = set().union(*(self.alias_roots(node.inputs[j], cache)
                              for ins in node.op.destroy_map.values() for j in ins))
        if self._schedule_cache is None or not self._order_allows(node, roots):
            self._schedule_cache = None
            self._positions = None
            return
        readers = self._analysis()[3]
        for root in roots:
            for reader in readers.get(root, ()):
                if reader is not node:
                    self._users[id(reader)].append(id(node))

    def _schedule(self):
        nodes, cache, _, readers_of = self._analysis()
        after = defaultdict(set)          # node id -> ids of nodes that must run first
        index = {id(n): n for n in nodes}
        for n in nodes:
            for i in n.inputs:
                if i.owner is not None and id(i.owner) in index:
                    after[id(n)].add(id(i.owner))
        destroyers = [(n, set().union(*(self.alias_roots(n.inputs[j], cache)
                                         for j in ins)))
                      for n in nodes for ins in getattr(n.op, "destroy_map", {}).values()]
        for destroyer, roots in destroyers:
            for root in roots:
                for reader in readers_of.get(root, ()):
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
        self._users = users  # the ordering edges, for _runs_before_a_reader
        return order

    def __repr__(self):
        return f"FunctionGraph({len(self.nodes())} nodes, {len(self.outputs)} outputs)"
