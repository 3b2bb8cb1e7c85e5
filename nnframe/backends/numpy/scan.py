"""NumPy kernel for Scan: the step compiled once, called in a loop over preallocated buffers.

Each iteration calls the step's linked code directly (no argument checks:
the loop itself hands it arrays of the right types), then copies its results
into the rows of the state buffers and collected outputs, which are allocated
once per call.  The checks a user needs (sequences long enough, states that
keep their shape) name the scan and the argument.
"""
import numpy as np

from nnframe.backends.numpy.registry import register
from nnframe.backends.scan_plan import LoopPlan, compile_step
from nnframe.core.ops.scan import Scan


@register(Scan)
def scan_kernel(node):
    op = node.op
    linked = compile_step(op, "numpy")
    step = linked.run
    plan = LoopPlan(op)
    n_seqs, n_states, n_carried = op.n_seqs, op.n_states, op.n_carried
    n_collected, has_until, backwards = op.n_collected, op.has_until, op.backwards
    lags, tap_offsets = plan.lags, plan.tap_offsets
    state_dtypes = [o.dtype for o in node.outputs[:n_states]]
    collected_dtypes = [o.dtype for o in node.outputs[n_states + n_carried:]]
    collected_static = [o.type.shape[1:] for o in node.outputs[n_states + n_carried:]]

    def run(n, *outer):
        n = int(n)
        seqs = outer[:n_seqs]
        inits = outer[n_seqs:n_seqs + n_states]
        carried = list(outer[n_seqs + n_states:n_seqs + n_states + n_carried])
        nonseqs = list(outer[n_seqs + n_states + n_carried:])
        plan.check(n, seqs, inits)
        buffers = []
        for init, lag, dtype in zip(inits, lags, state_dtypes):
            buf = np.empty((lag + n,) + init.shape[1:], dtype=dtype)
            buf[:lag] = init[:lag]
            buffers.append(buf)
        row_shapes = [b.shape[1:] for b in buffers]
        collected = [None] * n_collected
        steps = n
        for t in (range(n - 1, -1, -1) if backwards else range(n)):
            args = [s[t] for s in seqs]
            for buf, offsets in zip(buffers, tap_offsets):
                args += [buf[t + o] for o in offsets]
            args += carried
            args += nonseqs
            try:
                outs = step(*args)[0]
            except Exception as exc:
                raise plan.step_error(exc, t, linked) from exc
            for k in range(n_states):
                value = outs[k]
                if value.shape != row_shapes[k]:
                    raise plan.shape_error("output", k, t, value.shape,
                                           f"its state rows have shape {row_shapes[k]}")
                buffers[k][t + lags[k]] = value
            carried = list(outs[n_states:n_states + n_carried])
            base = n_states + n_carried
            for i in range(n_collected):
                value = outs[base + i]
                if collected[i] is None:
                    collected[i] = np.empty((n,) + value.shape, dtype=collected_dtypes[i])
                elif value.shape != collected[i].shape[1:]:
                    raise plan.shape_error("collected output", i, t, value.shape,
                                           f"it had shape {collected[i].shape[1:]} before")
                collected[i][t] = value
            if has_until and outs[-1]:
                steps = t + 1
                break
        if steps < n:
            buffers = [b[:lag + steps] for b, lag in zip(buffers, lags)]
            collected = [c[:steps] for c in collected]
        for i in range(n_collected):
            if collected[i] is None:  # no step ran: rows of the static shape (0 if unknown)
                shape = tuple(0 if s is None else s for s in collected_static[i])
                collected[i] = np.zeros((0,) + shape, dtype=collected_dtypes[i])
        results = buffers + carried + collected
        return results[0] if len(results) == 1 else tuple(results)
    return run
