"""NumPy kernel for Scan: the shared loop (nnframe/backends/scan_plan.py) over NumPy arrays."""
import numpy as np

from nnframe.backends.numpy.registry import register
from nnframe.backends.scan_plan import LoopPlan, compile_step
from nnframe.core.ops.scan import Scan


class _Memory:
    """Rows of NumPy arrays for the loop: indexing and assignment."""

    @staticmethod
    def row(a, t):
        return a[t]

    @staticmethod
    def empty(shape, dtype):
        return np.empty(shape, dtype=dtype)

    @staticmethod
    def write(buf, t, value, k):
        buf[t] = value

    @staticmethod
    def prefix(a, rows):
        return a[:rows]

    @staticmethod
    def truth(value):
        return bool(value)


@register(Scan)
def scan_kernel(node):
    linked = compile_step(node.op, "numpy")
    step = linked.run
    plan = LoopPlan(node)

    def run(n, *outer):
        return plan.run(_Memory, step, linked, int(n), outer)
    return run
