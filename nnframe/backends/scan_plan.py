"""The loop of a Scan, for every backend.

The step is compiled once (:func:`compile_step`) with the backend's own mode;
:class:`LoopPlan` holds the layout (where each tap reads in its state's
buffer), the checks and error messages a user needs, and the loop itself
(:meth:`LoopPlan.run`).  A backend gives the loop its way with memory (an
object with ``row``, ``empty``, ``write``, ``prefix`` and ``truth``): the
NumPy backend indexes arrays, the OpenCL backend makes views of device buffers
and writes rows with a copy kernel.

Each iteration calls the step's linked code directly (no argument checks: the
loop hands it values of the right types) and writes its results into the next
row of the state buffers and collected outputs, allocated once per call.
"""
from nnframe.core.ops.scan import ScanError

__all__ = ["LoopPlan", "compile_step"]


def compile_step(op, mode):
    """The step's :class:`~nnframe.core.link.LinkedGraph`, compiled with ``mode``: its
    ``run(*inner_values)`` returns ``(outputs, ())``."""
    from nnframe.core.function import function
    f = function(op.inner_inputs, op.inner_outputs, mode=mode, on_unused_input="ignore",
                 name=f"{op.name} step")
    return f.maker.linked


class LoopPlan:
    """The loop of one Scan node: layout, checks, messages and :meth:`run`.

    ``check(n, seqs, inits)`` raises the user's error for sequences too
    short for ``n`` steps and initial values without enough rows.
    """

    def __init__(self, node):
        op = node.op
        self.op = op
        outs = node.outputs
        self.state_dtypes = [o.dtype for o in outs[:op.n_states]]
        collected = outs[op.n_states + op.n_carried:]
        self.collected_dtypes = [o.dtype for o in collected]
        self.collected_static = [o.type.shape[1:] for o in collected]
        self.lags = op.state_lags
        # Where each tap reads in its state's buffer, relative to the step index.
        self.tap_offsets = [[lag + tap for tap in taps]
                            for lag, taps in zip(self.lags, op.state_taps)]
        self.n_states = op.n_states
        self.n_carried = op.n_carried
        self.n_collected = op.n_collected

    def check(self, n, seqs, inits, row_count=len):
        op = self.op
        if n < 0:
            why = (f"the sequences are too short for their taps ({', '.join(op.seq_info)})"
                   if op.n_seqs else "n_steps must be >= 0")
            raise ScanError(f"{op.name}: the number of steps is {n}: {why}")
        for info, s in zip(op.seq_info, seqs):
            if row_count(s) < n:
                raise ScanError(f"{op.name}: {info} has {row_count(s)} rows but the loop runs "
                                f"{n} steps; give a longer sequence or a smaller n_steps")
        for k, (lag, init) in enumerate(zip(self.lags, inits)):
            if row_count(init) < lag:
                raise ScanError(f"{op.name}: the initial value of output {k} has "
                                f"{row_count(init)} rows but its taps {list(op.state_taps[k])} "
                                f"need {lag}")

    def run(self, memory, step, linked, n, outer):
        """The node's outputs: ``n`` steps of ``step`` (``linked.run``) on the ``outer``
        values (the node's inputs after ``n_steps``), rows handled by ``memory``."""
        op = self.op
        n_seqs, n_states, n_carried = op.n_seqs, op.n_states, op.n_carried
        n_collected, has_until = op.n_collected, op.has_until
        lags, tap_offsets = self.lags, self.tap_offsets
        row, write = memory.row, memory.write
        seqs = outer[:n_seqs]
        inits = outer[n_seqs:n_seqs + n_states]
        carried = list(outer[n_seqs + n_states:n_seqs + n_states + n_carried])
        nonseqs = list(outer[n_seqs + n_states + n_carried:])
        self.check(n, seqs, inits)
        buffers = []
        for k, (init, lag) in enumerate(zip(inits, lags)):
            buf = memory.empty((lag + n,) + tuple(init.shape[1:]), self.state_dtypes[k])
            for r in range(lag):
                write(buf, r, row(init, r), k)
            buffers.append(buf)
        row_shapes = [tuple(b.shape[1:]) for b in buffers]
        collected = [None] * n_collected
        steps = n
        for t in (range(n - 1, -1, -1) if op.backwards else range(n)):
            args = [row(s, t) for s in seqs]
            for buf, offsets in zip(buffers, tap_offsets):
                args += [row(buf, t + o) for o in offsets]
            args += carried
            args += nonseqs
            try:
                outs = step(*args)[0]
            except Exception as exc:
                raise self.step_error(exc, t, linked) from exc
            for k in range(n_states):
                value = outs[k]
                if value.shape != row_shapes[k]:
                    raise self.shape_error("output", k, t, value.shape,
                                           f"its state rows have shape {row_shapes[k]}")
                write(buffers[k], t + lags[k], value, k)
            carried = list(outs[n_states:n_states + n_carried])
            base = n_states + n_carried
            for i in range(n_collected):
                value = outs[base + i]
                if collected[i] is None:
                    collected[i] = memory.empty((n,) + tuple(value.shape),
                                                self.collected_dtypes[i])
                elif value.shape != collected[i].shape[1:]:
                    raise self.shape_error("collected output", i, t, value.shape,
                                           f"it had shape {collected[i].shape[1:]} before")
                write(collected[i], t, value, n_states + i)
            if has_until and memory.truth(outs[-1]):
                steps = t + 1
                break
        if steps < n:
            buffers = [memory.prefix(b, lag + steps) for b, lag in zip(buffers, lags)]
            collected = [memory.prefix(c, steps) for c in collected]
        for i in range(n_collected):
            if collected[i] is None:  # no step ran: rows of the static shape (0 if unknown)
                shape = tuple(0 if s is None else s for s in self.collected_static[i])
                collected[i] = memory.empty((0,) + shape, self.collected_dtypes[i])
        results = buffers + carried + collected
        return results[0] if len(results) == 1 else tuple(results)

    def step_error(self, exc, t, linked):
        """``exc``, raised by the step at step ``t``, as the same type of exception whose
        message names the scan, the step and the inner node that failed."""
        from nnframe.core.link import attach_node_to_exception
        node, values = linked.node_of_exception(exc)
        if node is not None:
            exc = attach_node_to_exception(exc, node, values, f"{self.op.name} step")
        try:
            return type(exc)(f"{self.op.name}, step {t}: {exc}")
        except Exception:  # exceptions whose constructor wants other arguments
            return RuntimeError(f"{self.op.name}, step {t}: {exc}")

    def shape_error(self, what, k, t, got, want):
        return ScanError(f"{self.op.name}: at step {t} the step's {what} {k} has shape {got}, "
                         f"but {want}; a loop's outputs must keep their shape from step to "
                         "step (check the initial value's shape in outputs_info)")
