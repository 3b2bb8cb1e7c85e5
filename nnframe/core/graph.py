"""The symbolic graph: Variables produced by Apply nodes of Ops.

A graph is bipartite: an :class:`Apply` node applies an Op to input
Variables and owns its output Variables.  Leaves have no owner: inputs the
user declares, shared variables and :class:`Constant` s.  This module holds
no numeric code; it only builds, walks and copies graphs.

>>> from nnframe import tensor as T
>>> x = T.dscalar('x'); y = x + 1
>>> y.owner.inputs[0] is x
True
"""
import itertools
import os
import sys

__all__ = ["Variable", "Constant", "Apply", "toposort", "ancestors",
           "graph_inputs", "clone_replace", "creation_site"]

_ids = itertools.count()
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def creation_site():
    """``(filename, lineno)`` of the first caller frame outside nnframe.

    Stored on every Apply node so that runtime errors can point at the user's
    line that built the failing node.  Walking frames is far cheaper than
    ``traceback.extract_stack``.
    """
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return None
    return (frame.f_code.co_filename, frame.f_lineno)


class Variable:
    """A symbolic value of a given :class:`~nnframe.core.types.TensorType`.

    ``owner`` is the Apply node that computes it (None for leaves) and
    ``index`` its position among that node's outputs.
    """

    def __init__(self, type, owner=None, index=None, name=None):
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.uid = next(_ids)
        self.tag = {}

    def clone(self):
        """A new leaf Variable of the same type and name (no owner)."""
        return type(self)(self.type, name=self.name)

    def __repr__(self):
        if self.name:
            return self.name
        if self.owner is not None:
            op = str(self.owner.op)
            return op if len(self.owner.outputs) == 1 else f"{op}.{self.index}"
        return f"<{self.type}>"

    __str__ = __repr__

    # Variables are graph nodes, compared by identity (as in Theano).
    __eq__ = object.__eq__
    __hash__ = object.__hash__


class Constant(Variable):
    """A leaf whose value is known when the graph is built."""

    def __init__(self, type, data, name=None):
        super().__init__(type, name=name)
        self.data = data

    def clone(self):
        return type(self)(self.type, self.data, name=self.name)

    def signature(self):
        """A hashable key: two constants with equal signatures are interchangeable."""
        data = self.data
        return (self.type, data.dtype.str, data.shape, data.tobytes())

    def __repr__(self):
        if self.name:
            return self.name
        if self.data.size == 1:  # scalars and their broadcastable reshapes
            return str(self.data.item())
        if self.data.size <= 4:
            text = str(self.data.tolist())
            return text if len(text) <= 24 else f"Constant{{{self.type}}}"
        return f"Constant{{{self.type}}}"

    __str__ = __repr__


class Apply:
    """One application of an Op to input Variables.

    Built by ``Op.make_node``; creates its output Variables from the given
    output types.
    """

    def __init__(self, op, inputs, output_types):
        self.op = op
        self.inputs = list(inputs)
        for i, inp in enumerate(self.inputs):
            if not isinstance(inp, Variable):
                raise TypeError(f"input {i} of {op} is {type(inp).__name__}, not a Variable")
        self.outputs = [t.make_variable(owner=self, index=i) for i, t in enumerate(output_types)]
        self.tag = {"site": creation_site()}

    @property
    def out(self):
        """The single output of a one-output node."""
        if len(self.outputs) != 1:
            raise ValueError(f"{self.op} has {len(self.outputs)} outputs; use .outputs")
        return self.outputs[0]

    def clone_with_new_inputs(self, inputs):
        """The same Op applied to other inputs (of the same types), via make_node."""
        node = self.op.make_node(*inputs)
        node.tag = dict(self.tag)
        return node

    def __repr__(self):
        return f"{self.op}({', '.join(map(repr, self.inputs))})"


def toposort(outputs):
    """Apply nodes needed to compute ``outputs``, each after its inputs' nodes."""
    order, done = [], set()
    stack = [(v, False) for v in reversed(list(outputs))]
    while stack:
        var, expanded = stack.pop()
        node = var.owner
        if node is None or id(node) in done:
            continue
        if expanded:
            done.add(id(node))
            order.append(node)
            continue
        stack.append((var, True))
        for inp in reversed(node.inputs):
            if inp.owner is not None and id(inp.owner) not in done:
                stack.append((inp, False))
    return order


def ancestors(outputs, blockers=()):
    """Every Variable that ``outputs`` depend on (themselves included).

    Walking stops at ``blockers``: they are included but not their ancestors.
    """
    blocked = {id(b) for b in blockers}
    seen, result, stack = set(), [], list(outputs)
    while stack:
        var = stack.pop()
        if id(var) in seen:
            continue
        seen.add(id(var))
        result.append(var)
        if var.owner is not None and id(var) not in blocked:
            stack.extend(var.owner.inputs)
    return result


def graph_inputs(outputs, blockers=()):
    """The leaves (owner-less Variables, and ``blockers``) that ``outputs`` depend on."""
    blocked = {id(b) for b in blockers}
    return [v for v in ancestors(outputs, blockers) if v.owner is None or id(v) in blocked]


def clone_replace(outputs, replace=None):
    """Copies of ``outputs`` with the Variables in ``replace`` substituted.

    ``outputs`` is a Variable or a list of them (the result has the same
    form); ``replace`` maps old Variables to new ones (a dict or a list of
    pairs, as in Theano's ``clone`` and PyTensor's ``clone_replace``).  Apply
    nodes between the replaced Variables and ``outputs`` are rebuilt with
    ``make_node`` so types are re-checked; leaves that are not replaced are
    kept as they are.  Replacements are not applied inside the replacement
    graphs themselves.

    >>> import nnframe.tensor as T
    >>> x, y = T.dscalars('x', 'y')
    >>> clone_replace(x * 2, {x: y}).owner.inputs[0] is y
    True
    """
    if isinstance(outputs, Variable):
        return clone_replace([outputs], replace)[0]
    memo = {}
    for old, new in (replace.items() if isinstance(replace, dict) else replace or ()):
        if not (isinstance(old, Variable) and isinstance(new, Variable)):
            raise TypeError(f"clone_replace: replace {old!r} by {new!r}: both must be "
                            "symbolic variables")
        if getattr(old.type, "ndim", None) != getattr(new.type, "ndim", None):
            raise TypeError(f"clone_replace: cannot replace {old!r} ({old.type}) by {new!r} "
                            f"({new.type}): the number of dimensions differs")
        memo[id(old)] = new
    for node in toposort(outputs):
        if all(id(o) in memo for o in node.outputs):
            continue
        new_inputs = [memo.get(id(i), i) for i in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            new_node = Apply.__new__(Apply)
            new_node.op, new_node.inputs, new_node.tag = node.op, new_inputs, dict(node.tag)
            new_node.outputs = [o.type.make_variable(owner=new_node, index=o.index, name=o.name)
                                for o in node.outputs]
        else:
            new_node = node.clone_with_new_inputs(new_inputs)
            for old, new in zip(node.outputs, new_node.outputs):
                new.name = old.name
        for old, new in zip(node.outputs, new_node.outputs):
            memo.setdefault(id(old), new)
    return [memo.get(id(o), o) for o in outputs]
