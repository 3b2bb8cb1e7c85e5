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
import copyreg
import itertools
import os
import sys
import warnings

from nnframe.config import config

__all__ = ["Variable", "Constant", "Apply", "Tag", "toposort", "ancestors",
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


#: tag entries that are caches of this process, not part of the graph: never pickled
_UNPICKLED_TAGS = frozenset({"eval_cache"})


class Tag(dict):
    """A scratchpad of notes on a Variable or Apply node, as in Theano.

    Entries read and write both as attributes and as items:
    ``x.tag.test_value = v`` is ``x.tag["test_value"] = v``.  A missing
    attribute raises AttributeError, so ``getattr(x.tag, 'trace', None)`` works.
    Caches (``eval_cache``) are dropped when pickled.
    """

    __slots__ = ()

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"tag has no entry {name!r}") from None

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"tag has no entry {name!r}") from None

    def copy(self):
        new = type(self).__new__(type(self))
        dict.update(new, self)
        return new

    def _pickled_items(self):
        return {k: v for k, v in self.items() if k not in _UNPICKLED_TAGS}

    def __reduce__(self):
        return (Tag, (self._pickled_items(),))

    def __repr__(self):
        return f"Tag({dict.__repr__(self)})"


class VariableTag(Tag):
    """A Variable's :class:`Tag`: a ``test_value`` is checked against the variable's type."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        object.__setattr__(self, "variable", variable)

    def __setitem__(self, key, value):
        if key == "test_value":
            value = _check_test_value(self.variable, value)
        dict.__setitem__(self, key, value)

    def copy(self):
        new = VariableTag(self.variable)
        dict.update(new, self)
        return new

    def __reduce__(self):
        # The entries come back through __setstate__ (dict.update: not re-checked,
        # since the variable may not be rebuilt yet when its tag is).
        return (VariableTag, (self.variable,), self._pickled_items())

    def __setstate__(self, state):
        dict.update(self, state)


def _check_test_value(var, value):
    """``value`` as a value of ``var``'s type, or a TypeError saying why it is not one."""
    type_ = var.type
    if not hasattr(type_, "filter"):
        return value
    return type_.filter(value, what=f"test value of {var!r}",
                        hint=f"give an array of dtype {type_.dtype} with "
                             f"{type_.ndim} dimension(s)")


#: True while a pickler writes the nodes a variable depends on (see Variable.__reduce_ex__)
_pickling_graph = [False]


class _EndOfGraphPrefix:
    """Pickled last in a flattened variable's state: the flattening is over."""

    def __reduce__(self):
        _pickling_graph[0] = False
        return (type(None), ())

    def __del__(self):
        # Also over when the pickler or copier dropped the state without reaching
        # the end (an error part way, copy.copy).
        _pickling_graph[0] = False


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
        self.tag = VariableTag(self)
        if owner is None and config.compute_test_value != "off" and _built_by_nnframe():
            # A placeholder nnframe makes for itself (a loop's step inputs, gradient
            # dummies): missing test values on it are not the user's to give.
            self._placeholder = True

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

    # -- pickling -----------------------------------------------------------
    def __reduce_ex__(self, protocol):
        state = dict(self.__dict__)
        if self.owner is not None and not _pickling_graph[0]:
            # Pickle the Apply nodes this variable depends on first, inputs before
            # users, so that pickling a deep graph does not recurse along it.
            _pickling_graph[0] = True
            state = {"_graph_prefix": toposort([self])[:-1], **state,
                     "_graph_prefix_end": _EndOfGraphPrefix()}
        return (copyreg.__newobj__, (type(self),), state)

    def __setstate__(self, state):
        state.pop("_graph_prefix", None)
        state.pop("_graph_prefix_end", None)
        self.__dict__.update(state)


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
        self.tag = Tag(site=creation_site())
        if config.compute_test_value != "off":
            _compute_test_values(self)

    @property
    def out(self):
        """The single output of a one-output node."""
        if len(self.outputs) != 1:
            raise ValueError(f"{self.op} has {len(self.outputs)} outputs; use .outputs")
        return self.outputs[0]

    def clone_with_new_inputs(self, inputs):
        """The same Op applied to other inputs (of the same types), via make_node."""
        node = self.op.make_node(*inputs)
        node.tag = Tag(self.tag)
        return node

    def __repr__(self):
        return f"{self.op}({', '.join(map(repr, self.inputs))})"


# -- test values (config.compute_test_value) -----------------------------------------------------
#: modules that make leaf variables on behalf of their caller (T.dmatrix, shared, constant)
_CONSTRUCTOR_FILES = frozenset(os.path.join(_PACKAGE_DIR, *parts) for parts in [
    ("core", "graph.py"), ("core", "variable.py"), ("core", "types.py"), ("core", "shared.py"),
    ("tensor", "types.py")])


def _built_by_nnframe():
    """True when the leaf being made was asked for by nnframe code, not by the user."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename in _CONSTRUCTOR_FILES:
        frame = frame.f_back
    return frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR)


_NO_VALUE = object()


def _test_value_of(var):
    """The test value of ``var``: its tag's, a constant's data or a shared variable's value."""
    value = var.tag.get("test_value", _NO_VALUE)
    if value is not _NO_VALUE:
        return value
    if isinstance(var, Constant):
        return var.data
    container = getattr(var, "container", None)
    if container is not None:
        value = container[0]
        return value.get() if hasattr(value, "get") else value  # device arrays: downloaded
    return _NO_VALUE


def _compute_test_values(node):
    """Store ``out.tag.test_value`` for each output of ``node``, computed from its inputs' test
    values with the NumPy kernels (``config.compute_test_value`` is not 'off').

    An input without a test value: 'raise' raises, 'warn' warns (for a variable the user
    declared; nodes over placeholders nnframe made, or over values that have none because an
    earlier node was skipped, are skipped quietly) and the node is skipped.  A kernel error
    is raised (a warning under 'warn') naming the node, the input shapes and the line that
    built it.
    """
    policy = config.compute_test_value
    values = []
    for k, inp in enumerate(node.inputs):
        value = _test_value_of(inp)
        if value is _NO_VALUE:
            if inp.owner is None and not getattr(inp, "_placeholder", False):
                msg = (f"compute_test_value: input {k} ({inp!r}, {inp.type}) of {node.op} has "
                       f"no test value; set it with {inp!r}.tag.test_value = ...")
                if policy == "raise":
                    raise ValueError(msg)
                if policy == "warn":
                    warnings.warn(msg, stacklevel=_user_stacklevel())
            return
        values.append(value)
    import numpy as np

    from nnframe.backends.numpy import kernel_for
    if getattr(node.op, "destroy_map", None) or getattr(node.op, "view_map", None):
        values = [np.array(v, copy=True) for v in values]
    try:
        result = kernel_for(node)(*values)
    except Exception as exc:
        from nnframe.core.link import attach_node_to_exception
        error = attach_node_to_exception(exc, node, values)
        error.args = (f"compute_test_value: {error.args[0]}",) + error.args[1:]
        if policy == "warn":
            warnings.warn(str(error.args[0]), stacklevel=_user_stacklevel())
            return
        raise error from exc
    results = result if len(node.outputs) != 1 else (result,)
    for out, value in zip(node.outputs, results):
        out.tag.test_value = value


def _user_stacklevel():
    """The ``stacklevel`` for ``warnings.warn`` called here that points at the user's line."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


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
            new_node.op, new_node.inputs, new_node.tag = node.op, new_inputs, Tag(node.tag)
            new_node.outputs = [o.type.make_variable(owner=new_node, index=o.index, name=o.name)
                                for o in node.outputs]
        else:
            new_node = node.clone_with_new_inputs(new_inputs)
            for old, new in zip(node.outputs, new_node.outputs):
                new.name = old.name
        for old, new in zip(node.outputs, new_node.outputs):
            memo.setdefault(id(old), new)
    return [memo.get(id(o), o) for o in outputs]
