"""OpenCL kernel for Scan: the step runs on the device, the states never leave it.

The step is compiled once for this device as linked code whose outputs stay
device arrays (:class:`~nnframe.backends.opencl.inner.DeviceOutputsMode`);
the shared loop (nnframe/backends/scan_plan.py) hands it views of device
buffers (a sequence's row ``t``, a state buffer's tap rows) and writes its
results into the next row of the state buffers and collected outputs with one
copy kernel per row.  Rows are written once and only read afterwards, so the
views handed out never change (device arrays are immutable).  Only
``n_steps`` and, with ``until``, the condition are read on the host.
"""
from nnframe.backends.opencl.array import empty, host_view
from nnframe.backends.opencl.elemwise import strided_copy
from nnframe.backends.opencl.inner import DeviceOutputsMode
from nnframe.backends.opencl.registry import register
from nnframe.backends.scan_plan import LoopPlan, compile_step
from nnframe.core.ops.scan import Scan

__all__ = []


class _Memory:
    """Rows of device arrays for the loop: views, and one copy kernel per written row.

    ``copies[k]`` writes rows of output ``k`` (states, then collected outputs).
    """

    def __init__(self, ctx, copies):
        self.ctx = ctx
        self.copies = copies

    @staticmethod
    def row(a, t):
        """Row ``t`` of ``a`` as a view (of the host copy too, if any)."""
        return a.view(a.shape[1:], a.strides[1:], a.offset + t * a.strides[0], lambda h: h[t])

    def empty(self, shape, dtype):
        return empty(self.ctx, shape, dtype)

    def write(self, buf, t, value, k):
        target = buf.view(buf.shape[1:], buf.strides[1:], buf.offset + t * buf.strides[0], None)
        self.copies[k](target, value)

    @staticmethod
    def prefix(a, rows):
        return a.view((rows,) + a.shape[1:], a.strides, a.offset, None)

    @staticmethod
    def truth(value):
        return bool(host_view(value))


@register(Scan)
def scan_kernel(node, builder):
    op = node.op
    linked = compile_step(op, DeviceOutputsMode())
    step = linked.run
    plan = LoopPlan(node)
    written = node.outputs[:op.n_states] + node.outputs[op.n_states + op.n_carried:]
    memory = _Memory(builder.ctx, [strided_copy(builder, o.dtype, o.dtype, o.ndim - 1)
                                   for o in written])

    def run(n, *outer):
        return plan.run(memory, step, linked, int(host_view(n)), outer)
    return run
