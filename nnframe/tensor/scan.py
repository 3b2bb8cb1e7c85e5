"""Loops in the graph: ``T.scan`` and ``T.map``, ``T.reduce``, ``T.foldl``, ``T.foldr``.

Theano's ``scan``, argument for argument: the step function ``fn`` is called
once, with symbolic rows of the sequences, the taps of the recurrent outputs
and the non-sequences, and the graph it returns becomes the body of one Scan
node (``nnframe/core/ops/scan.py``).

>>> import numpy as np, nnframe.tensor as T
>>> from nnframe import function
>>> x = T.dvector('x')
>>> running, updates = T.scan(lambda v, total: total + v, sequences=x,
...                           outputs_info=T.constant(0.0, dtype='float64'))
>>> function([x], running)(np.array([1.0, 2.0, 3.0]))
array([1., 3., 6.])

What ``fn`` receives, in order: for each sequence, one row per tap (default
tap 0: ``x[t]``); for each output with an initial value, one value per tap
(default tap -1: the previous step's value); then the non-sequences.  It
returns the outputs (one per entry of ``outputs_info``; ``None`` there marks
an output with no initial value), optionally a dict of shared-variable
updates and an :class:`until` condition, in any order.

Decisions (see docs/scan.md): the step's loop-invariant parts (``W.T``, a
product of two parameters) are computed once outside the loop; shared
variables read in the step are captured even when ``strict=False``; random
draws in the step give new numbers each step, their streams' states come back
in ``updates`` and also become those states' default updates, so a function
that forgets ``updates=`` still advances them.
"""
from collections import OrderedDict

from nnframe.core.graph import Variable, ancestors, clone_replace
from nnframe.core.op import as_tensor_variable
from nnframe.core.ops.elemwise import minimum
from nnframe.core.ops.scan import Scan, ScanError, free_variables, is_row_count
from nnframe.core.ops.scan_pushout import push_out_sequence_work
from nnframe.core.ops.shape import shape_i
from nnframe.core.shared import SharedVariable
from nnframe.core.types import TensorType, is_discrete
from nnframe.core.variable import TensorConstant

__all__ = ["scan", "map", "reduce", "foldl", "foldr", "until", "ScanError"]


class until:
    """Stop the loop after the step where ``condition`` is true (Theano's ``scan_module.until``).

    >>> import nnframe.tensor as T
    >>> from nnframe import function
    >>> def double(v):
    ...     w = v * 2
    ...     return w, T.until(w > 50)
    >>> powers, _ = T.scan(double, outputs_info=T.constant(1, dtype='int64'), n_steps=100)
    >>> function([], powers)()
    array([ 2,  4,  8, 16, 32, 64])
    """

    def __init__(self, condition):
        condition = as_tensor_variable(condition)
        if condition.ndim != 0:
            raise ScanError(f"until: the condition must be a scalar, got {condition.type}; "
                            "reduce it (e.g. T.any(...))")
        self.condition = condition


def _as_list(x):
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


# -- the arguments --------------------------------------------------------------------------
def _sequences(sequences, name):
    """``[(variable, taps)]`` from the ``sequences`` argument."""
    out = []
    for j, entry in enumerate(_as_list(sequences)):
        what = f"{name}: sequences[{j}]"
        taps = [0]
        if isinstance(entry, dict):
            unknown = set(entry) - {"input", "taps"}
            if unknown or "input" not in entry:
                raise ScanError(f"{what}: a sequence given as a dict needs the key 'input' (and "
                                f"optionally 'taps'); got keys {sorted(entry)}")
            taps = _taps(entry.get("taps", [0]), what)
            entry = entry["input"]
        var = as_tensor_variable(entry)
        if var.ndim == 0:
            raise ScanError(f"{what} is a scalar ({var.type}); a sequence is iterated over its "
                            "first axis, so it needs at least one dimension")
        span = max(taps) - min(taps)
        length = var.type.shape[0]
        if length is not None and length <= span:
            raise ScanError(f"{what} has {length} rows, too few for its taps {taps} (they need "
                            f"at least {span + 1})")
        out.append((var, taps))
    return out


def _taps(taps, what):
    taps = _as_list(taps)
    if not taps or not all(isinstance(t, int) and not isinstance(t, bool) for t in taps):
        raise ScanError(f"{what}: taps must be a non-empty list of ints, got {taps!r}")
    if len(set(taps)) != len(taps):
        raise ScanError(f"{what}: taps {taps} repeat an offset")
    return sorted(taps)


def _outputs_info(outputs_info, name):
    """One entry per output: None (no initial value) or ``(initial, taps)``."""
    if outputs_info is None:
        return None
    entries = []
    for k, entry in enumerate(_as_list(outputs_info)):
        what = f"{name}: outputs_info[{k}]"
        taps = [-1]
        if isinstance(entry, dict):
            unknown = set(entry) - {"initial", "taps", "return_steps"}
            if unknown:
                raise ScanError(f"{what}: unknown key(s) {sorted(unknown)}; an output is "
                                "described by 'initial' and 'taps'")
            if entry.get("initial") is None:
                if "taps" in entry and entry["taps"]:
                    raise ScanError(f"{what} has taps {entry['taps']} but no 'initial' value; "
                                    "an output fed back to the step needs an initial value")
                entries.append(None)
                continue
            taps = _taps(entry.get("taps", [-1]), what)
            entry = entry["initial"]
        if entry is None:
            entries.append(None)
            continue
        if any(t >= 0 for t in taps):
            raise ScanError(f"{what}: output taps must be negative (earlier steps), got {taps}")
        initial = as_tensor_variable(entry)
        lag = -min(taps)
        if taps != [-1]:
            rows = initial.type.shape[0] if initial.ndim else None
            if initial.ndim == 0 or (rows is not None and rows < lag):
                raise ScanError(f"{what}: with taps {taps} the initial value needs {lag} rows "
                                f"(one per earlier step) along a first axis; got {initial.type}")
        entries.append((initial, taps))
    return entries


# -- what the step returns ------------------------------------------------------------------
def _parse_step_result(result, name):
    """``(outputs, updates, condition)`` from whatever ``fn`` returned."""
    updates, condition = [], None
    parts = list(result) if isinstance(result, tuple) else [result]
    structured = any(isinstance(p, (dict, until)) for p in parts)
    if not structured:
        outputs = _as_list(result)
    else:
        outputs = []
        for p in parts:
            if isinstance(p, until):
                condition = p.condition
            elif isinstance(p, dict):
                updates = list(p.items())
            else:
                outputs += _as_list(p)
    checked = []
    for k, o in enumerate(outputs):
        if isinstance(o, until):
            condition = o.condition
            continue
        try:
            checked.append(as_tensor_variable(o))
        except Exception as exc:
            raise ScanError(f"{name}: output {k} of the step function is {type(o).__name__} "
                            f"{o!r}, not a tensor ({exc})") from None
    for k, (var, _) in enumerate(updates):
        if not isinstance(var, SharedVariable):
            raise ScanError(f"{name}: the step's updates[{k}] updates {var!r}, which is not a "
                            "shared variable")
    return checked, updates, condition


def _state_type(initial, taps):
    """The type of one tap's value: the initial value's (tap -1) or one of its rows."""
    t = initial.type
    return t if taps == [-1] else TensorType(t.dtype, t.shape[1:])


def _fit_state(k, state_var, out, initial, name):
    """The state variable's type widened so the step's output ``out`` fits it, or an error."""
    want = state_var.type
    if out.ndim != want.ndim:
        raise ScanError(f"{name}: output {k} of the step has {out.ndim} dimension(s) "
                        f"({out.type}) but its initial value in outputs_info[{k}] gives "
                        f"{want.ndim} ({want}); a state must keep its shape")
    if out.dtype != want.dtype:
        raise ScanError(f"{name}: output {k} of the step has dtype {out.dtype} but its initial "
                        f"value in outputs_info[{k}] ({initial!r}) has dtype {want.dtype}; give "
                        f"an initial value of dtype {out.dtype} (e.g. T.cast(h0, "
                        f"'{out.dtype}')) or cast the step's result")
    return TensorType(want.dtype, tuple(a if a == b else None
                                        for a, b in zip(want.shape, out.type.shape)))


# -- scan -------------------------------------------------------------------------------------
def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None,
         truncate_gradient=-1, go_backwards=False, mode=None, name=None, profile=False,
         allow_gc=None, strict=False, return_list=False):
    """Loop ``fn`` over ``sequences``; returns ``(outputs, updates)`` as Theano's ``scan``.

    Parameters
    ----------
    fn : callable
        The step: ``fn(*sequence_taps, *output_taps, *non_sequences)``.
    sequences : Variable, dict(input=x, taps=[...]) or a list of them
        Iterated over their first axis.
    outputs_info : list of None, initial values or dict(initial=h0, taps=[...])
        One entry per output of ``fn``; None: the output is not fed back.
    non_sequences : list
        Passed to every step unchanged (parameters).
    n_steps : int or integer scalar, optional
        The number of steps (default: the length of the shortest sequence).
    truncate_gradient : int
        Backpropagate through the last ``truncate_gradient`` steps only (-1: all).
    go_backwards : bool
        Iterate the sequences from the end; outputs are in iteration order.
    mode, profile, allow_gc
        Accepted for Theano's code; the step runs with the enclosing function's mode.
    name : str
        Shown in printed graphs and error messages.
    strict : bool
        Every shared variable the step reads must be in ``non_sequences``.
    return_list : bool
        Return a list even for a single output.

    Returns
    -------
    (outputs, updates): the outputs (a Variable, or a list), each with one row
    per step; an OrderedDict of shared-variable updates for ``function``.
    """
    name = str(name or "scan")
    if not callable(fn):
        raise ScanError(f"{name}: fn must be callable, got {type(fn).__name__}")
    if not isinstance(truncate_gradient, int) or (truncate_gradient < 1
                                                  and truncate_gradient != -1):
        raise ScanError(f"{name}: truncate_gradient must be -1 (no truncation) or a positive "
                        f"int, got {truncate_gradient!r}")
    seqs = _sequences(sequences, name)
    states = _outputs_info(outputs_info, name)
    nonseqs = [v if isinstance(v, Variable) else as_tensor_variable(v)
               for v in _as_list(non_sequences)]
    if go_backwards:
        seqs = [(var[::-1], taps) for var, taps in seqs]
    n = _n_steps(seqs, n_steps, name)

    # The step, called once on symbolic rows and taps.
    seq_rows = [[TensorType(var.dtype, var.type.shape[1:])(f"{name}.seq{j}[t{tap:+d}]")
                 for tap in taps] for j, (var, taps) in enumerate(seqs)]
    state_entries = [] if states is None else [(k, e) for k, e in enumerate(states) if e]
    state_vars = {k: [_state_type(init, taps)(f"{name}.out{k}[t{tap:+d}]") for tap in taps]
                  for k, (init, taps) in state_entries}
    args = [v for rows in seq_rows for v in rows]
    args += [v for k, _ in state_entries for v in state_vars[k]] + nonseqs
    _check_arity(fn, args, seqs, states, nonseqs, name)
    outputs, updates, condition = _parse_step_result(fn(*args), name)
    if states is None:
        states = [None] * len(outputs)
    elif len(outputs) != len(states):
        raise ScanError(f"{name}: the step function returned {len(outputs)} output(s) but "
                        f"outputs_info has {len(states)} entries; give one entry per output "
                        "(None for an output that is not fed back)")

    # States' types widened until each output fits its state (e.g. an initial value with a
    # broadcastable axis that the step's result does not keep).
    for _ in range(3):
        replace = {}
        for k, (init, _) in state_entries:
            new_type = _fit_state(k, state_vars[k][0], outputs[k], init, name)
            if new_type != state_vars[k][0].type:
                for j, v in enumerate(state_vars[k]):
                    replace[v] = new_type(v.name)
                    state_vars[k][j] = replace[v]
        if not replace:
            break
        exprs = clone_replace(outputs + [e for _, e in updates]
                              + ([condition] if condition is not None else []), replace)
        outputs = exprs[:len(outputs)]
        updates = list(zip([s for s, _ in updates], exprs[len(outputs):len(outputs) + len(updates)]))
        condition = exprs[-1] if condition is not None else None

    updates = _with_default_updates(outputs, updates, condition, seq_rows, state_vars)
    if strict:
        _check_strict(outputs, updates, condition, nonseqs, seqs, name)

    # The inner graph: shared variables with updates become carried states, everything else
    # the step reads from outside becomes a non-sequence.
    carried_vars = [TensorType(s.type.dtype, s.type.shape)(f"{name}.{s.name or 'shared'}")
                    for s, _ in updates]
    exprs = outputs + [e for _, e in updates] + ([condition] if condition is not None else [])
    exprs = clone_replace(exprs, {s: v for (s, _), v in zip(updates, carried_vars)})
    row_vars = [v for rows in seq_rows for v in rows]
    outer_seqs = [_tap_rows(var, taps, tap, n) for var, taps in seqs for tap in taps]
    seq_info = [f"sequences[{j}] (tap {tap})" for j, (_, taps) in enumerate(seqs) for tap in taps]
    loop_vars = row_vars + [v for k, _ in state_entries for v in state_vars[k]] + carried_vars
    # Products of sequence rows with invariants (dot(x_t, W_in)) become sequences computed
    # for all steps at once.
    exprs, extra_rows, extra_seqs = push_out_sequence_work(exprs, row_vars, outer_seqs,
                                                           loop_vars)
    row_vars += extra_rows
    outer_seqs += extra_seqs
    seq_info += [f"a product of sequence rows computed before the loop ({k})"
                 for k in range(len(extra_rows))]
    loop_vars += extra_rows
    # Rows only the moved work read are no longer inputs of the step.
    read = {id(v) for v in ancestors(exprs)}
    kept = [k for k, v in enumerate(row_vars) if id(v) in read]
    row_vars = [row_vars[k] for k in kept]
    outer_seqs = [outer_seqs[k] for k in kept]
    seq_info = [seq_info[k] for k in kept]
    free = free_variables(exprs, loop_vars)
    free_inner = [f.type(f"{name}.{f.name}" if f.name else None) for f in free]
    exprs = clone_replace(exprs, dict(zip(free, free_inner)))
    for k, (s, _) in enumerate(updates):
        exprs[len(outputs) + k] = _fit_update(s, exprs[len(outputs) + k], name)
    outputs_inner = exprs[:len(outputs)]
    updates_inner = exprs[len(outputs):len(outputs) + len(updates)]
    if condition is not None:
        cond = exprs[-1]
        from nnframe.core.ops.elemwise import neq
        condition_inner = cond if cond.dtype == "bool" else neq(cond, 0)
    state_ks = [k for k, _ in state_entries]
    collected_ks = [k for k, e in enumerate(states) if e is None]

    op = Scan(
        row_vars + [v for k in state_ks for v in state_vars[k]] + carried_vars + free_inner,
        [outputs_inner[k] for k in state_ks] + updates_inner
        + [outputs_inner[k] for k in collected_ks]
        + ([condition_inner] if condition is not None else []),
        n_seqs=len(row_vars),
        state_taps=[tuple(states[k][1]) for k in state_ks],
        n_carried=len(updates), n_collected=len(collected_ks),
        has_until=condition is not None, truncate_gradient=truncate_gradient, name=name,
        seq_info=seq_info)
    outer_inits = [_initial_rows(*states[k]) for k in state_ks]
    results = op(n, *outer_seqs, *outer_inits, *[s for s, _ in updates], *free)
    results = results if isinstance(results, list) else [results]

    user_outputs = [None] * len(states)
    for j, k in enumerate(state_ks):
        user_outputs[k] = results[j][-min(states[k][1]):]
    finals = results[len(state_ks):len(state_ks) + len(updates)]
    for j, k in enumerate(collected_ks):
        user_outputs[k] = results[len(state_ks) + len(updates) + j]
    for out, k in zip(user_outputs, range(len(user_outputs))):
        out.name = f"{name}.out{k}" if len(user_outputs) > 1 else name
    new_values = OrderedDict()
    for (shared_var, _), final in zip(updates, finals):
        new_values[shared_var] = final
        if shared_var.default_update is not None:
            # The stream's next state is the loop's last: a function compiled without
            # updates= still advances it past every step's draw.
            shared_var.default_update = final
    if not user_outputs:
        return None, new_values
    if len(user_outputs) == 1 and not return_list:
        return user_outputs[0], new_values
    return user_outputs, new_values


def _check_arity(fn, args, seqs, states, nonseqs, name):
    """Refuse, before calling it, a step function that cannot take what scan passes: the
    message lists the arguments (the usual mistake: taps and ``fn``'s parameters disagree)."""
    import inspect
    try:
        inspect.signature(fn).bind(*args)
    except TypeError:
        pass
    except ValueError:  # no signature (a builtin): let the call decide
        return
    else:
        return
    parts = [f"sequences[{j}] at taps {taps}" for j, (_, taps) in enumerate(seqs)]
    parts += [f"outputs_info[{k}] at taps {e[1]}" for k, e in enumerate(states or []) if e]
    if nonseqs:
        parts.append(f"{len(nonseqs)} non-sequence(s)")
    raise ScanError(f"{name}: the step function cannot take the {len(args)} argument(s) scan "
                    f"passes ({'; '.join(parts) or 'none'}, one argument per tap, in this "
                    f"order); its signature is {fn.__name__ if hasattr(fn, '__name__') else fn}"
                    f"{inspect.signature(fn)}")


def _n_steps(seqs, n_steps, name):
    """The number of steps as an int64 scalar."""
    if n_steps is not None:
        n = as_tensor_variable(n_steps)
        if n.ndim != 0 or not is_discrete(n.dtype):
            raise ScanError(f"{name}: n_steps must be an integer scalar, got {n.type}")
        if isinstance(n, TensorConstant) and int(n.data) < 0:
            raise ScanError(f"{name}: n_steps is {int(n.data)}; it must be >= 0 (use "
                            "go_backwards=True to iterate backwards)")
        return n if n.dtype == "int64" else n.astype("int64")
    if not seqs:
        raise ScanError(f"{name}: without sequences, scan needs n_steps (how many steps to run)")
    lengths = [shape_i(var, 0) - (max(taps) - min(taps)) if len(taps) > 1 else shape_i(var, 0)
               for var, taps in seqs]
    n = lengths[0]
    for length in lengths[1:]:
        n = minimum(n, length)
    return n


def _tap_rows(var, taps, tap, n):
    """The rows of ``var`` that tap ``tap`` reads at steps 0..n-1."""
    start = tap - min(taps)
    if start == 0 and is_row_count(n, var):
        return var
    return var[start:start + n] if start else var[:n]


def _initial_rows(initial, taps):
    """A state's buffer start: its ``L`` initial rows (tap -1: the initial value, as one row)."""
    if taps == [-1]:
        return initial[None]
    return initial[:-min(taps)]


def _fit_update(shared_var, expr, name):
    if expr.ndim != shared_var.ndim or expr.dtype != shared_var.dtype:
        raise ScanError(f"{name}: the step's update of {shared_var!r} ({shared_var.type}) has "
                        f"type {expr.type}; cast it to {shared_var.dtype} with the same number "
                        "of dimensions")
    return expr


def _with_default_updates(outputs, updates, condition, seq_rows, state_vars):
    """``updates`` plus the default updates (random streams' next states) of shared
    variables the loop's nodes read."""
    loop_vars = [v for rows in seq_rows for v in rows]
    loop_vars += [v for vs in state_vars.values() for v in vs]
    updated = {id(s) for s, _ in updates}
    updates = list(updates)
    while True:
        exprs = outputs + [e for _, e in updates] + ([condition] if condition is not None else [])
        inside_reads = free_variables(exprs, loop_vars)
        added = False
        for v in inside_reads:
            if (isinstance(v, SharedVariable) and v.default_update is not None
                    and id(v) not in updated):
                updates.append((v, v.default_update))
                updated.add(id(v))
                added = True
        if not added:
            return updates


def _check_strict(outputs, updates, condition, nonseqs, seqs, name):
    from nnframe.core.graph import graph_inputs
    allowed = {id(v) for v in nonseqs} | {id(s) for s, _ in updates}
    allowed |= {id(var) for var, _ in seqs}
    exprs = outputs + [e for _, e in updates] + ([condition] if condition is not None else [])
    for leaf in graph_inputs(exprs, blockers=nonseqs):
        if isinstance(leaf, SharedVariable) and id(leaf) not in allowed:
            raise ScanError(f"{name}: strict=True but the step reads the shared variable "
                            f"{leaf!r}, which is not in non_sequences; add it there")


# -- the folds ---------------------------------------------------------------------------------
def map(fn, sequences, non_sequences=None, truncate_gradient=-1, go_backwards=False, mode=None,
        name=None):
    """``fn`` applied to each row of ``sequences``: Theano's ``map``.

    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import function
    >>> x = T.dvector('x')
    >>> squares, _ = T.map(lambda v: v ** 2, x)
    >>> function([x], squares)(np.array([1.0, 2.0, 3.0]))
    array([1., 4., 9.])
    """
    return scan(fn, sequences=sequences, outputs_info=None, non_sequences=non_sequences,
                truncate_gradient=truncate_gradient, go_backwards=go_backwards, name=name or "map")


def reduce(fn, sequences, outputs_info, non_sequences=None, go_backwards=False, mode=None,
           name=None):
    """The last value of each output of the loop: Theano's ``reduce``.

    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import function
    >>> x = T.dvector('x')
    >>> total, _ = T.reduce(lambda v, acc: acc + v, x, T.constant(0.0, dtype='float64'))
    >>> float(function([x], total)(np.array([1.0, 2.0, 3.0])))
    6.0
    """
    outputs, updates = scan(fn, sequences=sequences, outputs_info=outputs_info,
                            non_sequences=non_sequences, go_backwards=go_backwards,
                            name=name or "reduce", return_list=True)
    last = [o[-1] for o in outputs]
    return (last[0] if len(last) == 1 else last), updates


def foldl(fn, sequences, outputs_info, non_sequences=None, mode=None, name=None):
    """``reduce`` from the first row to the last."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=False,
                  name=name or "foldl")


def foldr(fn, sequences, outputs_info, non_sequences=None, mode=None, name=None):
    """``reduce`` from the last row to the first."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=True,
                  name=name or "foldr")
