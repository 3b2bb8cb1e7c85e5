"""``function()``: compile symbolic inputs and outputs into a Python callable.

>>> import nnframe.tensor as T
>>> from nnframe import function
>>> x = T.dscalar('x'); y = T.dscalar('y')
>>> f = function([x, y], x + y)
>>> f(2, 3)
array(5.)

Compiling: (1) check inputs, outputs, ``updates`` and ``givens``; (2) copy
the graph with the ``givens`` substituted; (3) rewrite it (unless the mode
says not to); (4) link it into one flat Python function over the backend's
kernels.  A call filters the inputs against their types, runs the linked
function, then applies all updates together, after the outputs are computed.
"""
import time
import warnings
from collections import OrderedDict

import numpy as np

from nnframe.config import config
from nnframe.core.fgraph import FunctionGraph
from nnframe.core.graph import Constant, Variable, clone_replace, graph_inputs
from nnframe.core.link import attach_node_to_exception, link
from nnframe.core.mode import get_mode
from nnframe.core.op import as_tensor_variable
from nnframe.core.shared import SharedVariable
from nnframe.core.types import is_complex, is_float

__all__ = ["function", "Function", "In", "Out", "MissingInputError", "UnusedInputError"]

_MISSING = object()


class MissingInputError(TypeError):
    """The outputs need a variable that is neither an input, shared nor given."""


class UnusedInputError(TypeError):
    """An input does not contribute to any output or update."""


class In:
    """An input with a name for keyword calls and an optional default value.

    >>> import nnframe.tensor as T
    >>> x, y = T.dscalars('x', 'y')
    >>> f = function([x, In(y, value=1.0)], x + y)
    >>> f(2.0), f(2.0, y=5.0)
    (array(3.), array(7.))
    """

    def __init__(self, variable, name=None, value=None, strict=False, allow_downcast=None):
        if not isinstance(variable, Variable):
            raise TypeError(f"In() needs a symbolic variable, got {type(variable).__name__}")
        self.variable = variable
        self.name = name if name is not None else variable.name
        self.value = value
        self.strict = strict
        self.allow_downcast = allow_downcast

    def __repr__(self):
        return f"In({self.variable!r})"


class Out:
    """An output that may be returned without a defensive copy (``borrow=True``).

    By default an output that could share memory with an input, a shared
    variable or another output is copied.  With ``borrow=True`` it is not, and
    its buffer may be reused by the next call: the caller must not keep the
    array across calls (Theano's ``Out(borrow=True)``).  On the OpenCL backend a
    borrowed output is not even downloaded: the call returns a
    :class:`~nnframe.backends.opencl.array.DeviceArray`, read when the caller asks
    (``.get()``, ``float()``, ``np.asarray``), so the host need not wait for the device.

    >>> import nnframe.tensor as T
    >>> x = T.dvector('x')
    >>> f = function([x], Out(x * 2, borrow=True))
    """

    def __init__(self, variable, borrow=False):
        if not isinstance(variable, Variable):
            variable = as_tensor_variable(variable)
        self.variable = variable
        self.borrow = borrow

    def __repr__(self):
        return f"Out({self.variable!r}, borrow={self.borrow})"


def _as_list_of_pairs(pairs, what):
    """``updates`` or ``givens`` (named by ``what``), given as a dict or as a list of pairs,
    as one list of ``(key, value)`` tuples; None is no pairs."""
    if pairs is None:
        return []
    if isinstance(pairs, (dict, OrderedDict)):
        return list(pairs.items())
    if isinstance(pairs, (list, tuple)):
        out = []
        for k, pair in enumerate(pairs):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise TypeError(f"{what}[{k}] must be a (variable, expression) pair, got {pair!r}")
            out.append(tuple(pair))
        return out
    raise TypeError(f"{what} must be a list of (variable, expression) pairs or a dict, "
                    f"got {type(pairs).__name__}")


def _fit_type(target, value, what, fix):
    """``value`` made to fit ``target``'s type, or a TypeError naming both types."""
    from nnframe.core.ops.shape import specify_shape
    if target.type == value.type or target.type.is_super(value.type):
        return value
    if value.type.ndim != target.type.ndim:
        raise TypeError(f"{what}: {target!r} has type {target.type} but the expression has "
                        f"type {value.type}: {value.type.ndim} dimension(s) instead of "
                        f"{target.type.ndim}; build an expression of {target!r}'s shape")
    if value.type.dtype != target.type.dtype:
        raise TypeError(f"{what}: {target!r} has type {target.type} but the expression has "
                        f"type {value.type}; {fix}")
    for axis, (want, have) in enumerate(zip(target.type.shape, value.type.shape)):
        if want is not None and have is not None and want != have:
            raise TypeError(f"{what}: {target!r} has type {target.type} but the expression "
                            f"has type {value.type} (static length on axis {axis} differs)")
    return specify_shape(value, target.type.shape)


class FunctionMaker:
    """Holds what compiling produced: ``fgraph``, the ``linked`` code and the mode.

    ``function_kwargs`` are the arguments of :func:`function` that compile it again
    (inputs, outputs, updates, givens, mode and options): a pickled function is
    these, and unpickling compiles them (as Theano does).
    """

    def __init__(self, fgraph, linked, mode, inputs, updates, function_kwargs=None):
        self.fgraph = fgraph
        self.linked = linked
        self.mode = mode
        self.inputs = inputs
        self.updates = updates
        self.function_kwargs = function_kwargs

    def __reduce__(self):
        if self.function_kwargs is None:
            raise TypeError("this FunctionMaker was not made by function() and cannot be "
                            "pickled")
        return (_unpickle_maker, (self.function_kwargs,))


def _unpickle_function(kwargs):
    """A pickled :class:`Function` compiled again from its ``function()`` arguments."""
    return function(**kwargs)


def _unpickle_maker(kwargs):
    return function(**kwargs).maker


def _no_default_update_ids(no_default_updates):
    """A predicate telling which shared variables' default updates to skip."""
    if no_default_updates is True or no_default_updates is False:
        return lambda leaf: no_default_updates
    if not isinstance(no_default_updates, (list, tuple, set)) or not all(
            isinstance(v, SharedVariable) for v in no_default_updates):
        raise TypeError("no_default_updates must be True, False or a list of shared "
                        f"variables; got {no_default_updates!r}")
    ids = {id(v) for v in no_default_updates}
    return lambda leaf: id(leaf) in ids


# -- compiling, step 1: the arguments in one form ------------------------------------------------
# Each helper checks one argument and raises the error a user of that argument needs.  function()
# calls them in the order inputs, outputs, updates, givens: the order the checks have always run
# in, so that a call with several mistakes reports the same one first.

def _inputs_as_in(inputs, fname):
    """The ``inputs`` argument as a list of :class:`In`, one per positional argument.

    Takes the list the caller passed (Variables and/or ``In``) and the function's name for the
    messages.  Exists to refuse early, saying what to do instead, anything that cannot be an
    argument: a bare variable instead of a list, constants, shared variables (implicit inputs),
    computed variables and the same variable twice.
    """
    if isinstance(inputs, (Variable, In)) or not isinstance(inputs, (list, tuple)):
        raise TypeError("function() takes its inputs as a list, e.g. function([x, y], z); got "
                        f"{type(inputs).__name__}")
    ins = []
    seen = set()
    for k, item in enumerate(inputs):
        spec = item if isinstance(item, In) else In(item) if isinstance(item, Variable) else None
        if spec is None:
            raise TypeError(f"input {k} of {fname} is {type(item).__name__} {item!r}, not a "
                            "symbolic variable")
        var = spec.variable
        _check_input_is_a_leaf(k, var, fname)
        if id(var) in seen:
            raise TypeError(f"input {var!r} appears twice in the inputs of {fname}")
        seen.add(id(var))
        ins.append(spec)
    return ins


def _check_input_is_a_leaf(k, var, fname):
    """Raise unless input ``k``'s variable ``var`` can receive a value: a non-shared leaf."""
    if isinstance(var, Constant):
        raise TypeError(f"input {k} of {fname} is the constant {var!r}; inputs must be "
                        "symbolic variables (e.g. T.dscalar('x'))")
    if isinstance(var, SharedVariable):
        raise TypeError(f"input {k} of {fname} is the shared variable {var!r}; shared "
                        "variables are implicit inputs. Use givens=[(shared, x)] to "
                        "substitute it")
    if var.owner is not None:
        raise TypeError(f"input {k} of {fname} ({var!r}) is computed by {var.owner.op}; "
                        "inputs must be leaf variables. Use givens= to replace an "
                        "intermediate result")


def _outputs_as_list(outputs):
    """``(single, variables, borrowed)`` for the ``outputs`` argument.

    ``single``: the call returns one value, not a list (``outputs`` is None or not a list or
    tuple); ``variables``: the outputs as Variables (``Out`` unwrapped, plain values made
    constants); ``borrowed``: the positions given as ``Out(borrow=True)``, which the copy plan
    must leave uncopied.
    """
    single = not isinstance(outputs, (list, tuple))
    outs = [] if outputs is None else [outputs] if single else list(outputs)
    borrowed = {k for k, o in enumerate(outs) if isinstance(o, Out) and o.borrow}
    outs = [o.variable if isinstance(o, Out) else as_tensor_variable(o) for o in outs]
    return single, outs, borrowed


def _updates_as_pairs(updates):
    """The ``updates`` argument (pairs or a dict) as a list of ``(shared, expression)`` pairs.

    Each expression is made a Variable of its shared variable's type (or a TypeError names both
    types).  The types are checked here rather than when the graph is rebuilt so that an update
    error is still reported before a givens error.
    """
    update_pairs = []
    targets = set()
    for k, (target, expr) in enumerate(_as_list_of_pairs(updates, "updates")):
        if not isinstance(target, SharedVariable):
            raise TypeError(f"updates[{k}]: {target!r} is not a shared variable; only shared "
                            "variables can be updated")
        if id(target) in targets:
            raise ValueError(f"shared variable {target!r} has more than one update")
        targets.add(id(target))
        if not isinstance(expr, Variable):
            expr = as_tensor_variable(np.asarray(expr, dtype=target.type.dtype))
        expr = _fit_type(target, expr, f"update of shared variable {target.name or target}",
                         f"cast the update with .astype({target.type.dtype!r}) or "
                         f"T.cast(expr, {target.type.dtype!r})")
        update_pairs.append((target, expr))
    return update_pairs


def _givens_as_dict(givens, ins, fname):
    """The ``givens`` argument (pairs or a dict) as ``{old: new}`` for ``clone_replace``.

    Each replacement is made a Variable of its key's type.  Takes the normalised inputs ``ins``
    because an input cannot be replaced: it would receive the caller's value and then be ignored.
    """
    input_ids = {id(spec.variable) for spec in ins}
    replace = {}
    for k, (old, new) in enumerate(_as_list_of_pairs(givens, "givens")):
        if not isinstance(old, Variable) or isinstance(old, Constant):
            raise TypeError(f"givens[{k}]: the key {old!r} must be a symbolic variable")
        if id(old) in input_ids:
            raise TypeError(f"givens[{k}]: {old!r} is also an input of {fname}; an input "
                            "cannot be replaced")
        new = as_tensor_variable(new) if not isinstance(new, Variable) else new
        replace[old] = _fit_type(old, new, f"givens[{k}]",
                                 f"make the replacement {old.type} (e.g. with "
                                 f".astype({old.type.dtype!r}))")
    return replace


# -- compiling, step 2: the graph to compile -----------------------------------------------------

def _rebuild_graph(outs, update_pairs, replace, no_default_updates):
    """The outputs and update values copied with the givens substituted, default updates added.

    Takes the normalised outputs, update pairs and givens and the ``no_default_updates``
    argument.  Appends to ``update_pairs`` the ``default_update`` of each shared variable the
    graph reads that has no explicit update (random streams advance their state this way)
    unless ``no_default_updates`` skips it.  Returns ``(out_vars, update_vars)``: the copied
    outputs and update values, ``update_vars[k]`` being the new value of ``update_pairs[k][0]``.
    """
    skip_default = _no_default_update_ids(no_default_updates)
    targets = {id(target) for target, _ in update_pairs}
    # A default update may read further shared variables with default updates of their own (and
    # the givens apply to it too), so copy again until a copy brings in no new one.
    while True:
        cloned = clone_replace(outs + [e for _, e in update_pairs], replace)
        if not _add_default_updates(graph_inputs(cloned), update_pairs, targets, skip_default):
            break
    return cloned[:len(outs)], cloned[len(outs):]


def _add_default_updates(leaves, update_pairs, targets, skip_default):
    """Append to ``update_pairs`` the default updates of shared ``leaves`` not yet in
    ``targets`` (ids, kept up to date) nor skipped; return whether any was added."""
    added = False
    for leaf in leaves:
        if (isinstance(leaf, SharedVariable) and leaf.default_update is not None
                and id(leaf) not in targets and not skip_default(leaf)):
            value = _fit_type(leaf, leaf.default_update,
                              f"default update of shared variable {leaf.name or leaf}",
                              "the code that set default_update must cast it")
            update_pairs.append((leaf, value))
            targets.add(id(leaf))
            added = True
    return added


def _check_leaves(ins, graph_outputs, on_unused_input, fname):
    """The leaves of ``graph_outputs``, once each is known to have a value when called.

    Raises MissingInputError for a leaf that is neither an input, shared nor constant, and
    applies ``on_unused_input`` to inputs no output or update depends on.  Called directly by
    function(): the warning's ``stacklevel`` points at function()'s caller.
    """
    input_ids = {id(spec.variable) for spec in ins}
    leaves = graph_inputs(graph_outputs)
    leaf_ids = {id(v) for v in leaves}
    for leaf in leaves:
        if not isinstance(leaf, (Constant, SharedVariable)) and id(leaf) not in input_ids:
            raise MissingInputError(
                f"{fname} needs the variable {leaf!r} ({leaf.type}) to compute its outputs, "
                "but it is not in the inputs list. Add it to the inputs, or replace it "
                "with givens=")
    for k, spec in enumerate(ins):
        if id(spec.variable) not in leaf_ids and on_unused_input != "ignore":
            msg = (f"input {k} ({spec.variable!r}, {spec.variable.type}) of {fname} is not used "
                   "to compute any output or update; remove it or pass "
                   "on_unused_input='ignore'")
            if on_unused_input == "raise":
                raise UnusedInputError(msg)
            warnings.warn(msg, stacklevel=3)
    return leaves


class _Graph:
    """The graph being compiled with the variables the call binds and returns (internal).

    ``outputs`` and ``update_values`` are read from ``fgraph`` on each access, so they are the
    rewritten variables once the rewrites have run.
    """

    __slots__ = ("fgraph", "input_vars", "n_outputs", "shared_vars", "update_targets")

    def __init__(self, fgraph, input_vars, shared_vars, update_targets, n_outputs):
        self.fgraph = fgraph
        self.input_vars = input_vars
        self.shared_vars = shared_vars
        self.update_targets = update_targets
        self.n_outputs = n_outputs

    @property
    def outputs(self):
        return self.fgraph.outputs[:self.n_outputs]

    @property
    def update_values(self):
        return self.fgraph.outputs[self.n_outputs:]


def _function_graph(ins, leaves, update_pairs, out_vars, update_vars):
    """The :class:`_Graph` over ``out_vars + update_vars``, whose leaves are the inputs of
    ``ins`` then the shared variables read (in graph order) or updated.

    Also says which shared variables' buffers the rewrites may overwrite in place
    (``fgraph.destroyable_leaves``).
    """
    input_vars = [spec.variable for spec in ins]
    update_targets = [t for t, _ in update_pairs]
    shared_vars = [v for v in leaves if isinstance(v, SharedVariable)]
    # An updated shared variable the graph does not read still needs its container bound.
    shared_ids = {id(v) for v in shared_vars}
    for t in update_targets:
        if id(t) not in shared_ids:
            shared_vars.append(t)
            shared_ids.add(id(t))
    fgraph = FunctionGraph(input_vars + shared_vars, out_vars + update_vars)
    # A shared variable's buffer may be overwritten only by a function that
    # replaces its value, and only if no other shared variable in the graph
    # shares the same storage (aliases made by layers such as batch norm).
    container_users = {}
    for v in shared_vars:
        container_users.setdefault(id(v.container), []).append(v)
    fgraph.destroyable_leaves = {id(t) for t in update_targets
                                 if len(container_users[id(t.container)]) == 1}
    return _Graph(fgraph, input_vars, shared_vars, update_targets, len(out_vars))


# -- compiling, step 3: rewrites, then what is copied and which buffers are kept ----------------

def _rewrite(graph, mode):
    """Rewrite ``graph.fgraph`` in place, unless ``mode`` compiles without rewrites."""
    if mode.rewrite:
        from nnframe.core.rewrite import rewrite_graph
        rewrite_graph(graph.fgraph, exclude=mode.exclude)


def _copy_plan(graph, borrowed):
    """``(copy_outputs, copy_updates)``: the positions of the outputs and update values that the
    linked function must copy before returning or storing them.

    A value is copied when it may share memory with an input, a shared variable, a constant or
    a value kept earlier in the list, since a later write through one would change the other.
    Outputs at the ``borrowed`` positions (``Out(borrow=True)``) are never copied.
    """
    fgraph = graph.fgraph
    cache = {}
    owned = {id(v) for v in graph.input_vars + graph.shared_vars}
    owned |= {id(v) for v in graph_inputs(fgraph.outputs) if isinstance(v, Constant)}
    claimed = set()
    copy_outputs, copy_updates = set(), set()
    for k, var in enumerate(graph.outputs):
        roots = fgraph.alias_roots(var, cache)
        if k not in borrowed and (roots & owned or roots & claimed):
            copy_outputs.add(k)
        else:
            claimed |= roots
    for k, (var, target) in enumerate(zip(graph.update_values, graph.update_targets)):
        # An update written in place into its own shared variable's buffer
        # needs no copy: the old value is gone anyway.
        roots = fgraph.alias_roots(var, cache)
        if roots & (owned - {id(target)}) or roots & claimed:
            copy_updates.add(k)
        else:
            claimed |= roots
    return copy_outputs, copy_updates


def _mark_buffer_reuse(graph, copy_outputs, copy_updates, borrowed):
    """Set ``node.tag["reuse_output"]`` on each node: may it keep its output buffer from one
    call to the next?

    Only values that never outlive a call: not update values, not outputs
    handed to the caller as they are (copied ones and Out(borrow=True) ones
    are fine).  Kernels that can write into a buffer reuse it.
    """
    fgraph = graph.fgraph
    escaping = set()
    roots_cache = {}
    for k, var in enumerate(graph.outputs):
        if k not in copy_outputs and k not in borrowed:
            escaping |= fgraph.buffer_roots(var, roots_cache)
    for k, var in enumerate(graph.update_values):
        if k not in copy_updates:
            escaping |= fgraph.buffer_roots(var, roots_cache)
    for node in fgraph.toposort():
        node.tag["reuse_output"] = all(id(o) not in escaping for o in node.outputs)


# -- compiling, step 4: linking and the callable -------------------------------------------------

def _link(graph, copy_outputs, copy_updates, mode, profile, fname, borrowed=()):
    """``(linked, stats)``: ``graph`` linked over the kernels of ``mode``'s backend, and the
    :class:`~nnframe.core.profile.ProfileStats` it records into (None unless profiling).

    ``profile`` None means ``config.profile``.  Debug mode checks, and profiling times, each
    kernel by wrapping it; with neither, the kernels run unwrapped.
    """
    backend = mode.get_backend()
    profile = config.profile if profile is None else profile
    stats = None
    wrap = None
    if mode.debug:
        from nnframe.core.debug import checking_kernel
        wrap = checking_kernel
    if profile:
        from nnframe.core.profile import ProfileStats
        stats = ProfileStats(fname)
        stats.counter_source = getattr(backend, "counters", None)
        inner = wrap
        wrap = (lambda n, k: stats.timing_kernel(n, inner(n, k))) if inner else stats.timing_kernel
    linked = link(graph.fgraph, graph.input_vars, graph.shared_vars, graph.outputs,
                  graph.update_values, backend, copy_outputs, copy_updates, wrap,
                  lazy_outputs=borrowed)
    return linked, stats


def _destroyed_containers(graph):
    """The containers of the shared variables whose buffers the linked code overwrites in place.

    The call copies such a buffer first if a caller may hold it (``container.exposed``).
    """
    fgraph = graph.fgraph
    destroyed = set()
    for node in fgraph.toposort():
        for inputs in getattr(node.op, "destroy_map", {}).values():
            for j in inputs:
                destroyed |= fgraph.alias_roots(node.inputs[j])
    return [v.container for v in graph.shared_vars if id(v) in destroyed]


def function(inputs, outputs=None, updates=(), givens=(), mode=None, name=None,
             allow_input_downcast=None, on_unused_input="raise", profile=None,
             trust_input=False, no_default_updates=False):
    """Compile a callable computing ``outputs`` from ``inputs``.

    Parameters
    ----------
    inputs : list of Variables or :class:`In`
        The arguments of the callable, in order.  Always a list.
    outputs : Variable or list of Variables, optional
        What the call returns (a single array for a single Variable, a list
        for a list).
    updates : list of (shared, expression) pairs or dict
        New values for shared variables, all computed from the old values and
        stored together after the outputs are computed.
    givens : list of (variable, expression) pairs or dict
        Substitutions made before compiling (e.g. a minibatch slice of a shared
        dataset in place of an input).  Not applied recursively.
    mode : None, 'native', 'numpy', 'debug', 'fast_compile', 'opencl' or a Mode
        None: ``config.device`` (default 'native': generated C, or the NumPy backend
        where no C compiler works).
    allow_input_downcast : bool, optional
        Accept inputs that lose precision when cast to the input's type.
    on_unused_input : 'raise', 'warn' or 'ignore'
    profile : bool, optional
        Record time per node in ``f.profile`` (default: ``config.profile``).
    trust_input : bool
        Skip the checks and conversions of call arguments (fastest; the
        caller guarantees exactly-typed ndarrays).
    no_default_updates : bool or list of shared variables
        As in Theano: ``True`` ignores every ``default_update`` (a random
        stream then gives the same numbers on each call); a list ignores
        those of the listed shared variables only.

    Examples
    --------
    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import shared
    >>> state = shared(np.array(0.0), name='state')
    >>> inc = T.dscalar('inc')
    >>> acc = function([inc], state, updates=[(state, state + inc)])
    >>> acc(1.0), acc(10.0), state.get_value()
    (array(0.), array(1.), array(11.))
    """
    start = time.perf_counter()
    mode = get_mode(mode)
    if on_unused_input not in ("raise", "warn", "ignore"):
        raise ValueError(f"on_unused_input must be 'raise', 'warn' or 'ignore', got "
                         f"{on_unused_input!r}")
    fname = name or "<function>"

    # 1. The arguments in one form (in this order, so the first mistake reported stays the same).
    ins = _inputs_as_in(inputs, fname)
    single, outs, borrowed = _outputs_as_list(outputs)
    update_pairs = _updates_as_pairs(updates)
    user_updates = list(update_pairs)  # kept for pickling, before default updates are added
    replace = _givens_as_dict(givens, ins, fname)

    # 2. The graph: givens applied, default updates appended to update_pairs, leaves checked.
    out_vars, update_vars = _rebuild_graph(outs, update_pairs, replace, no_default_updates)
    leaves = _check_leaves(ins, out_vars + update_vars, on_unused_input, fname)
    graph = _function_graph(ins, leaves, update_pairs, out_vars, update_vars)

    # 3. Rewrites, then what must be copied on the way out and which buffers may be kept.
    _rewrite(graph, mode)
    copy_outputs, copy_updates = _copy_plan(graph, borrowed)
    _mark_buffer_reuse(graph, copy_outputs, copy_updates, borrowed)

    # 4. Link, then wrap the linked code in the callable.
    linked, stats = _link(graph, copy_outputs, copy_updates, mode, profile, fname, borrowed)
    maker = FunctionMaker(graph.fgraph, linked, mode, ins, update_pairs, dict(
        inputs=ins, outputs=outputs, updates=user_updates, givens=list(replace.items()),
        mode=mode, name=name, allow_input_downcast=allow_input_downcast,
        on_unused_input=on_unused_input, profile=profile, trust_input=trust_input,
        no_default_updates=no_default_updates))
    f = Function(maker, ins, single, graph.update_targets, fname, allow_input_downcast, stats,
                 trust_input, _destroyed_containers(graph), sorted(borrowed))
    maker.compile_time = time.perf_counter() - start
    return f


class Function:
    """A compiled function; call it with the input values (positional or by name)."""

    def __init__(self, maker, ins, single, update_targets, name, allow_input_downcast, profile,
                 trust_input, destroyed_containers=(), borrowed_outputs=()):
        self.maker = maker
        #: containers of shared variables whose buffers this function overwrites
        self._destroyed = list(destroyed_containers)
        self.name = name
        self.inputs = ins
        self.profile = profile
        self.trust_input = trust_input
        self._single = single
        self._run = maker.linked.run
        self._n_inputs = len(ins)
        self._update_cells = [t.container for t in update_targets]
        self._update_targets = update_targets
        #: outputs returned without a copy (Out(borrow=True)), and the arrays the last
        #: call returned for them: the next call may write into those buffers
        self._borrowed = list(borrowed_outputs)
        self._lent = ()
        self._positions = {}
        for k, spec in enumerate(ins):
            if spec.name is not None:
                self._positions.setdefault(spec.name, k)
        self._filters = [self._make_filter(k, spec, allow_input_downcast)
                         for k, spec in enumerate(ins)]
        # The NaN policy is fixed when the function is compiled, like its mode.
        self._on_nan = config.on_nan

    def _make_filter(self, k, spec, allow_input_downcast):
        t = spec.variable.type
        dtype = np.dtype(t.dtype)
        ndim = t.ndim
        static = any(s is not None for s in t.shape)
        allow = spec.allow_downcast if spec.allow_downcast is not None else allow_input_downcast
        what = f"input {k} ({spec.name or spec.variable}) of function {self.name!r}"
        hint = (f"convert it with .astype({t.dtype!r}), or pass allow_input_downcast=True "
                "to function()")
        slow = t.filter
        strict = spec.strict

        def check(value):
            if (type(value) is np.ndarray and value.dtype == dtype and value.ndim == ndim
                    and not static):
                return value
            return slow(value, strict=strict, allow_downcast=allow, what=what, hint=hint)
        return check

    def _bind(self, args, kwargs):
        """Positional and keyword arguments, with defaults, as one list in input order."""
        n = self._n_inputs
        if len(args) > n:
            raise TypeError(f"function {self.name!r} takes {n} input(s), got {len(args)}")
        values = list(args) + [_MISSING] * (n - len(args))
        for key, value in kwargs.items():
            pos = self._positions.get(key)
            if pos is None:
                names = ", ".join(repr(s.name) for s in self.inputs if s.name) or "none"
                raise TypeError(f"function {self.name!r} got an unknown keyword argument "
                                f"{key!r}; its named inputs are: {names}")
            if values[pos] is not _MISSING:
                raise TypeError(f"function {self.name!r} got input {key!r} twice")
            values[pos] = value
        for k, value in enumerate(values):
            if value is _MISSING:
                spec = self.inputs[k]
                if spec.value is None:
                    raise TypeError(f"function {self.name!r} is missing input {k} "
                                    f"({spec.name or spec.variable}, {spec.variable.type})")
                values[k] = spec.value
        return values

    def __call__(self, *args, **kwargs):
        if kwargs or len(args) != self._n_inputs:
            args = self._bind(args, kwargs)
        if not self.trust_input:
            args = [f(a) for f, a in zip(self._filters, args)]
        if self._lent:
            args = self._unshare(args)
        for container in self._destroyed:
            if container.exposed:  # a caller may hold this array: work on a copy
                container[0] = container[0].copy()
                container.exposed = False
        profile = self.profile
        if profile is not None:
            before = profile.counters_before_call()
            start = time.perf_counter()
        try:
            outputs, new_values = self._run(*args)
        except Exception as exc:
            node, values = self.maker.linked.node_of_exception(exc)
            if node is None:
                raise
            raise attach_node_to_exception(exc, node, values, self.name) from exc
        if self._on_nan != "ignore":
            self._nan_guard(outputs, new_values)
        for cell, value in zip(self._update_cells, new_values):
            cell[0] = value
            cell.exposed = False
        if self._borrowed:      # device arrays (lazy outputs) are never overwritten
            self._lent = [outputs[k] for k in self._borrowed
                          if isinstance(outputs[k], np.ndarray)]
        if profile is not None:
            profile.calls += 1
            profile.call_time += time.perf_counter() - start
            profile.count_call(before)
        if self._single:
            return outputs[0] if outputs else None
        return list(outputs)

    def _unshare(self, args):
        """``args`` with a copy of each one that shares memory with a borrowed
        output of the last call: this call may overwrite that buffer while it
        still reads the argument (e.g. ``x = f(x)`` in a loop)."""
        return [a.copy() if any(np.may_share_memory(a, lent) for lent in self._lent) else a
                for a in args]

    def _nan_guard(self, outputs, new_values):
        named = [(f"output {k}", v) for k, v in enumerate(outputs)]
        named += [(f"update of {t}", v) for t, v in zip(self._update_targets, new_values)]
        for what, value in named:
            if (is_float(value.dtype) or is_complex(value.dtype)) and not np.isfinite(value).all():
                msg = f"function {self.name!r}: {what} contains NaN or Inf"
                if self._on_nan == "raise":
                    raise FloatingPointError(msg + " (config.on_nan='raise'); updates were not applied")
                warnings.warn(msg, RuntimeWarning, stacklevel=3)

    def __reduce__(self):
        # Pickled as the arguments that compile it (graph, shared variables and their
        # values included); unpickling compiles it again.
        kwargs = self.maker.function_kwargs
        if kwargs is None:
            raise TypeError(f"function {self.name!r} was not made by function() and cannot "
                            "be pickled")
        return (_unpickle_function, (dict(kwargs, trust_input=self.trust_input),))

    def __repr__(self):
        return f"<nnframe Function {self.name!r}: {len(self.inputs)} input(s)>"
