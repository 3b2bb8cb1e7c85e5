"""Scan: a loop over an inner graph, and its gradient (backpropagation through time).

``T.scan`` (nnframe/tensor/scan.py) turns the user's step function into one
``Scan`` node; this module holds the Op.  The inner graph is an ordinary graph
of the step; each iteration ``t`` feeds it

- one row ``seq[t]`` of each *sequence* (a sequence with several taps arrives
  as several sequences, each sliced by ``scan``),
- the taps of each *recurrent state*: ``buffer[t + L + tap]`` for each
  (negative) tap, where the state's buffer holds its ``L`` initial rows
  followed by one row per step,
- the current value of each *carried state* (only the final value comes out:
  random-stream states and shared-variable updates, the gradient's
  accumulators),
- the *non-sequences*, the same every step (the step's free variables:
  parameters, shared variables, loop-invariant expressions).

and reads back one new value per recurrent state, per carried state, then one
row per *collected* output (a result with no state), then optionally the
``until`` condition.  The outer node's inputs are ``[n_steps, *sequences,
*state buffers' initial rows, *carried initial values, *non_sequences]``; its
outputs are ``[*state buffers (L + n rows), *final carried values, *collected
outputs (n rows)]``.

The gradient is another Scan running backwards over the stored states: the
step is recomputed from them and differentiated with ``T.grad``, pending
gradients of earlier state rows travel in carried accumulators, so second
derivatives come from the same code.
"""
from nnframe.core.graph import Apply, Constant, graph_inputs, toposort
from nnframe.core.op import GradUndefined, Op, as_tensor_variable
from nnframe.core.types import TensorType, is_discrete, is_float

__all__ = ["Scan", "ScanError"]


class ScanError(ValueError):
    """A scan was built or run with inputs that do not fit its step function."""


def _join_types(a, b):
    """The narrowest type both ``a`` and ``b`` fit (same dtype and rank assumed)."""
    return TensorType(a.dtype, tuple(x if x == y else None for x, y in zip(a.shape, b.shape)))


class Scan(Op):
    """A loop: ``n_steps`` iterations of an inner graph (see the module docstring).

    Parameters
    ----------
    inner_inputs, inner_outputs : lists of Variables
        The step as a graph, inputs in the order sequences, state taps (state by
        state, tap by tap), carried states, non-sequences; outputs in the order
        states, carried states, collected outputs, until condition.
    n_seqs : int
    state_taps : tuple of tuples of negative ints, one per recurrent state
    n_carried, n_collected : int
    has_until : bool
    backwards : bool
        Run the steps from the last row to the first (sequence row ``t`` and
        collected row ``t`` at step ``t``, for ``t = n-1 .. 0``); only for loops
        without recurrent states or until (the gradient's loop).
    truncate_gradient : int (-1: the whole sequence)
    name : str
    seq_info : tuple of str, one per sequence, for error messages

    Each Scan is its own Op (compared by identity), like ``Map``.
    """

    view_map = {}

    def __init__(self, inner_inputs, inner_outputs, n_seqs, state_taps, n_carried, n_collected,
                 has_until=False, truncate_gradient=-1, name=None, seq_info=None,
                 backwards=False):
        self.inner_inputs = list(inner_inputs)
        self.inner_outputs = list(inner_outputs)
        self.n_seqs = n_seqs
        self.state_taps = tuple(tuple(int(t) for t in taps) for taps in state_taps)
        self.n_states = len(self.state_taps)
        self.n_carried = n_carried
        self.n_collected = n_collected
        self.has_until = bool(has_until)
        self.backwards = bool(backwards)
        if self.backwards and (self.state_taps or self.has_until):
            raise ScanError("a Scan running backwards has no recurrent states nor until")
        self.truncate_gradient = int(truncate_gradient)
        self.name = name or "scan"
        self.seq_info = tuple(seq_info) if seq_info is not None else tuple(
            f"sequence {j}" for j in range(n_seqs))
        n_taps = sum(len(t) for t in self.state_taps)
        self.n_nonseqs = len(self.inner_inputs) - n_seqs - n_taps - n_carried
        expected_out = self.n_states + n_carried + n_collected + self.has_until
        if self.n_nonseqs < 0 or len(self.inner_outputs) != expected_out:
            raise ScanError(f"{self.name}: {len(self.inner_inputs)} inner inputs and "
                            f"{len(self.inner_outputs)} inner outputs do not fit {n_seqs} "
                            f"sequence(s), states with taps {self.state_taps}, {n_carried} "
                            f"carried state(s) and {n_collected} collected output(s)")
        for taps in self.state_taps:
            if not taps or any(t >= 0 for t in taps) or len(set(taps)) != len(taps):
                raise ScanError(f"{self.name}: state taps must be distinct negative ints, got "
                                f"{list(taps)}")
        listed = {id(v) for v in self.inner_inputs}
        for leaf in graph_inputs(self.inner_outputs):
            if id(leaf) not in listed and not isinstance(leaf, Constant):
                raise ScanError(f"{self.name}: the inner graph reads {leaf!r}, which is not one "
                                "of its inputs")

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __str__(self):
        return f"Scan{{{self.name}}}"

    __repr__ = __str__

    # -- the layout of inputs and outputs ---------------------------------
    @property
    def state_lags(self):
        """``L`` of each recurrent state: how many initial rows its buffer holds."""
        return tuple(-min(taps) for taps in self.state_taps)

    def inner_groups(self):
        """The inner inputs split as ``(seqs, state_taps, carried, nonseqs)``; state_taps is a
        list of lists, one per state."""
        ins = self.inner_inputs
        seqs, pos = ins[:self.n_seqs], self.n_seqs
        taps = []
        for t in self.state_taps:
            taps.append(ins[pos:pos + len(t)])
            pos += len(t)
        carried = ins[pos:pos + self.n_carried]
        return seqs, taps, carried, ins[pos + self.n_carried:]

    def outer_groups(self, inputs):
        """Outer inputs split as ``(n_steps, seqs, state_inits, carried_inits, nonseqs)``."""
        a = 1 + self.n_seqs
        b = a + self.n_states
        c = b + self.n_carried
        return inputs[0], inputs[1:a], inputs[a:b], inputs[b:c], inputs[c:]

    def inner_output_groups(self):
        """Inner outputs split as ``(states, carried, collected, until or None)``."""
        outs = self.inner_outputs
        a, b = self.n_states, self.n_states + self.n_carried
        c = b + self.n_collected
        return outs[:a], outs[a:b], outs[b:c], (outs[c] if self.has_until else None)

    # -- graph building ---------------------------------------------------
    def make_node(self, n_steps, *outer):
        n_steps = as_tensor_variable(n_steps)
        if n_steps.ndim != 0 or not is_discrete(n_steps.dtype):
            raise ScanError(f"{self.name}: n_steps must be an integer scalar, got {n_steps.type}")
        outer = [as_tensor_variable(v) for v in outer]
        expected = self.n_seqs + self.n_states + self.n_carried + self.n_nonseqs
        if len(outer) != expected:
            raise ScanError(f"{self.name}: {len(outer)} outer inputs given, {expected} needed")
        _, seqs, inits, carried, nonseqs = self.outer_groups([n_steps] + outer)
        in_seqs, in_taps, in_carried, in_nonseqs = self.inner_groups()
        for j, (s, inner) in enumerate(zip(seqs, in_seqs)):
            self._check_fits(inner.type, TensorType(s.dtype, s.type.shape[1:]) if s.ndim else None,
                             f"{self.seq_info[j]}", s)
        for k, (init, taps) in enumerate(zip(inits, in_taps)):
            row = TensorType(init.dtype, init.type.shape[1:]) if init.ndim else None
            self._check_fits(taps[0].type, row, f"the initial rows of state {k}", init)
        for k, (init, inner) in enumerate(zip(carried, in_carried)):
            self._check_fits(inner.type, init.type, f"carried state {k}", init)
        for k, (v, inner) in enumerate(zip(nonseqs, in_nonseqs)):
            self._check_fits(inner.type, v.type, f"non-sequence {k}", v)
        out_states, out_carried, out_collected, _ = self.inner_output_groups()
        types = [TensorType(o.dtype, (None,) + o.type.shape) for o in out_states]
        types += [o.type for o in out_carried]
        types += [TensorType(o.dtype, (None,) + o.type.shape) for o in out_collected]
        return Apply(self, [n_steps] + outer, types)

    def _check_fits(self, inner_type, outer_type, what, var):
        if outer_type is None or not inner_type.is_super(outer_type):
            got = var.type if outer_type is None else outer_type
            raise ScanError(f"{self.name}: {what} ({var!r}) gives values of type {got}, but the "
                            f"step expects {inner_type}")

    def infer_shape(self, node, input_shapes):
        from nnframe.core.ops.shape import shape_i
        n = node.inputs[0]
        if self.has_until:
            raise NotImplementedError("the length of a scan with until is known only when run")
        _, _, init_shapes, carried_shapes, _ = self.outer_groups(input_shapes)
        shapes = [[n + lag] + list(s[1:])
                  for lag, s in zip(self.state_lags, init_shapes)]
        shapes += [list(s) for s in carried_shapes]
        shapes += [[n] + [shape_i(o, d) for d in range(1, o.ndim)]
                   for o in node.outputs[len(shapes):]]
        return shapes

    # -- gradient -----------------------------------------------------------
    def L_op(self, inputs, outputs, output_grads):
        from nnframe.core.ops.scan_grad import scan_grad
        if self.has_until:
            return [GradUndefined("the gradient of a scan with an until condition is not "
                                  "supported (as in Theano); run a fixed number of steps and "
                                  "mask the steps after the condition instead")
                    if is_float(v.dtype) else None for v in inputs]
        return scan_grad(self, inputs, outputs, output_grads)

    # -- printing -------------------------------------------------------------
    def inner_graphs(self):
        """For the printers (nnframe/printing.py): ``[("step", inputs, outputs)]``, inputs as
        ``(role, inner variable, position of the outer input bound to it)``."""
        seqs, taps, carried, nonseqs = self.inner_groups()
        a = 1 + self.n_seqs
        b, c = a + self.n_states, a + self.n_states + self.n_carried
        inputs = [(f"sequence {j}", v, 1 + j) for j, v in enumerate(seqs)]
        inputs += [(f"state {k} tap {tap}", v, a + k) for k, vs in enumerate(taps)
                   for tap, v in zip(self.state_taps[k], vs)]
        inputs += [(f"carried {k}", v, b + k) for k, v in enumerate(carried)]
        inputs += [(f"non-sequence {k}", v, c + k) for k, v in enumerate(nonseqs)]
        states, carried_out, collected, until = self.inner_output_groups()
        outputs = [(f"state {k}", v) for k, v in enumerate(states)]
        outputs += [(f"carried {k}", v) for k, v in enumerate(carried_out)]
        outputs += [(f"collected {k}", v) for k, v in enumerate(collected)]
        outputs += [("until", until)] if until is not None else []
        return [("step", inputs, outputs)]


def is_row_count(n, var):
    """Whether the graph ``n`` is, by construction, the number of rows of ``var``.

    Then ``var`` needs no slicing to ``n`` rows, and the gradient of a sequence
    is the backward loop's rows without padding.
    """
    from nnframe.core.ops.shape import ShapeI
    if isinstance(n, Constant):
        return var.type.shape[0] is not None and int(n.data) == var.type.shape[0]
    node = n.owner
    return (node is not None and isinstance(node.op, ShapeI) and node.op.i == 0
            and node.inputs[0] is var)


def values_read(outputs, candidates, skip):
    """``{id: variable}`` of the ``candidates`` (a dict by id) that ``outputs`` need: read by
    a node ``skip(node)`` does not set aside, or an output itself.

    The step's values the rest of a graph reads: the forward values a backward step
    reads (its recomputed forward nodes set aside), the moved-out work the loop
    still reads (the moved nodes set aside).
    """
    read = {}
    for node in toposort(outputs):
        if skip(node):
            continue
        for v in node.inputs:
            if id(v) in candidates:
                read[id(v)] = v
    for v in outputs:
        if id(v) in candidates:
            read[id(v)] = v
    return read


def free_variables(outputs, loop_vars):
    """The variables a step's ``outputs`` read from outside the loop, and which nodes loop.

    A node belongs to the loop when it reads a loop variable (an entry of
    ``loop_vars``: sequence rows, state taps) or draws random numbers (a new
    draw each step), or reads such a node's result.  Everything else is
    computed once, outside: the returned list holds the outside variables the
    loop's nodes read (and outputs that are themselves outside), in a stable
    order, constants excluded.
    """
    inside = {id(v) for v in loop_vars}
    # Results of constants alone (a broadcast 2 in ``x ** 2``) stay in the step, where
    # constant folding sees them: as non-sequences they would be inputs, and differentiable.
    constant = set()
    for node in toposort(outputs):
        if (not node.op.do_constant_folding
                or any(id(i) in inside for i in node.inputs)):
            inside.update(id(o) for o in node.outputs)
        elif all(isinstance(i, Constant) or id(i) in constant for i in node.inputs):
            constant.update(id(o) for o in node.outputs)
    free, seen = [], set()

    def add(v):
        if (id(v) not in inside and id(v) not in seen and not isinstance(v, Constant)
                and id(v) not in constant):
            seen.add(id(v))
            free.append(v)
    for node in toposort(outputs):
        if id(node.outputs[0]) in inside:
            for i in node.inputs:
                add(i)
    for o in outputs:
        add(o)
    return free
