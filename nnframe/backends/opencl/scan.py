"""OpenCL kernel for Scan: the step runs on the device, the states never leave it.

The step is compiled once for this device as linked code whose outputs stay
device arrays (:class:`~nnframe.backends.opencl.ifelse.DeviceOutputsMode`).
Each iteration hands it views of device buffers (a sequence's row ``t``, a
state buffer's tap rows) and writes its results into the next row of the
state buffers and collected outputs, allocated once per call, with one copy
kernel per row.  Rows are written once and only read afterwards, so the views
handed out never change (device arrays are immutable).  Only ``n_steps`` and,
with ``until``, the condition are read on the host.
"""
from nnframe.backends.opencl.array import empty, host_view
from nnframe.backends.opencl.elemwise import strided_copy
from nnframe.backends.opencl.ifelse import DeviceOutputsMode
from nnframe.backends.opencl.registry import register
from nnframe.backends.scan_plan import LoopPlan, compile_step
from nnframe.core.ops.scan import Scan

__all__ = []


def _row(a, t):
    """Row ``t`` of the device array ``a`` as a view (of the host copy too, if any)."""
    return a.view(a.shape[1:], a.strides[1:], a.offset + t * a.strides[0],
                  lambda h: h[t])


def _row_target(buf, t):
    """Row ``t`` of the buffer ``buf`` as a destination view for a copy kernel."""
    return buf.view(buf.shape[1:], buf.strides[1:], buf.offset + t * buf.strides[0], None)


@register(Scan)
def scan_kernel(node, builder):
    op = node.op
    ctx = builder.ctx
    linked = compile_step(op, DeviceOutputsMode())
    step = linked.run
    plan = LoopPlan(op)
    n_seqs, n_states, n_carried = op.n_seqs, op.n_states, op.n_carried
    n_collected, has_until, backwards = op.n_collected, op.has_until, op.backwards
    lags, tap_offsets = plan.lags, plan.tap_offsets
    state_outs = node.outputs[:n_states]
    collected_outs = node.outputs[n_states + n_carried:]
    state_copies = [strided_copy(builder, o.dtype, o.dtype, o.ndim - 1) for o in state_outs]
    collected_copies = [strided_copy(builder, o.dtype, o.dtype, o.ndim - 1)
                        for o in collected_outs]

    def run(n, *outer):
        n = int(host_view(n))
        seqs = outer[:n_seqs]
        inits = outer[n_seqs:n_seqs + n_states]
        carried = list(outer[n_seqs + n_states:n_seqs + n_states + n_carried])
        nonseqs = list(outer[n_seqs + n_states + n_carried:])
        plan.check(n, seqs, inits)
        buffers = []
        for init, lag, out, copy in zip(inits, lags, state_outs, state_copies):
            buf = empty(ctx, (lag + n,) + init.shape[1:], out.dtype)
            for r in range(lag):
                copy(_row_target(buf, r), _row(init, r))
            buffers.append(buf)
        row_shapes = [b.shape[1:] for b in buffers]
        collected = [None] * n_collected
        steps = n
        for t in (range(n - 1, -1, -1) if backwards else range(n)):
            args = [_row(s, t) for s in seqs]
            for buf, offsets in zip(buffers, tap_offsets):
                args += [_row(buf, t + o) for o in offsets]
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
                state_copies[k](_row_target(buffers[k], t + lags[k]), value)
            carried = list(outs[n_states:n_states + n_carried])
            base = n_states + n_carried
            for i in range(n_collected):
                value = outs[base + i]
                if collected[i] is None:
                    collected[i] = empty(ctx, (n,) + value.shape, collected_outs[i].dtype)
                elif value.shape != collected[i].shape[1:]:
                    raise plan.shape_error("collected output", i, t, value.shape,
                                           f"it had shape {collected[i].shape[1:]} before")
                collected_copies[i](_row_target(collected[i], t), value)
            if has_until and host_view(outs[-1]):
                steps = t + 1
                break
        if steps < n:
            buffers = [_prefix(b, lag + steps) for b, lag in zip(buffers, lags)]
            collected = [_prefix(c, steps) for c in collected]
        for i in range(n_collected):
            if collected[i] is None:  # no step ran: rows of the static shape (0 if unknown)
                shape = tuple(0 if s is None else s for s in collected_outs[i].type.shape[1:])
                collected[i] = empty(ctx, (0,) + shape, collected_outs[i].dtype)
        results = buffers + carried + collected
        return results[0] if len(results) == 1 else tuple(results)
    return run


def _prefix(a, rows):
    """The first ``rows`` rows of ``a`` (a view)."""
    return a.view((rows,) + a.shape[1:], a.strides, a.offset, None)
