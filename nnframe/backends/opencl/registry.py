"""The OpenCL backend's table from Op class to kernel factory, and the host fallback.

A factory is ``(node, builder) -> run``: it adds the node's kernels to the
function's :class:`~nnframe.backends.opencl.program.ProgramBuilder` and
returns ``run(*device_arrays)``, which launches them.  A factory may return
None to let :func:`host_fallback` run the node (e.g. an index by a boolean
mask); the fallback downloads the inputs, runs the NumPy kernel and keeps the
result on the host until a kernel needs it.  Every transfer it causes is
counted, and :data:`FALLBACKS` records which ops fell back and why (see
docs/opencl.md for the list).
"""
from collections import Counter

import numpy as np

from nnframe.backends.dispatch import KernelTable
from nnframe.backends.opencl.array import DeviceArray, host_view
from nnframe.backends.opencl.codegen import MAX_NDIM, supported_dtype

__all__ = ["register", "make_runner", "host_fallback", "numpy_kernel", "FALLBACKS"]

_TABLE = KernelTable()

#: Op class -> kernel factory (the table's dict)
KERNELS = _TABLE.kernels

#: Decorator: ``@register(OpClass, ...)`` on a factory ``(node, builder) -> run``
register = _TABLE.register

#: "OpName: reason" -> number of nodes compiled to the host fallback
FALLBACKS = Counter()


def _unsupported(node, ctx):
    """Why no device kernel can run ``node`` (a dtype or a rank), or None."""
    for var in list(node.inputs) + list(node.outputs):
        if not supported_dtype(var.dtype, ctx):
            return f"dtype {var.dtype} has no device kernels"
        if var.ndim > MAX_NDIM:
            return f"{var.ndim} dimensions (device kernels handle up to {MAX_NDIM})"
    return None


def make_runner(node, builder):
    """The function running ``node`` on the device (or on the host, for the fallbacks)."""
    reason = _unsupported(node, builder.ctx)
    if reason is None:
        factory = _TABLE.lookup(node.op)
        if factory is None:
            reason = "no device kernel"
        else:
            run = factory(node, builder)
            if run is not None:
                return run
            reason = "no device kernel for this case"
    return host_fallback(node, builder.ctx, reason)


def numpy_kernel(node):
    """The NumPy kernel of ``node``, made safe for inputs that must not change.

    In-place Ops (``destroy_map``) would write into their input's host array,
    which may be a caller's array or another value's host copy: those inputs
    are copied first.
    """
    from nnframe.backends.numpy import kernel_for
    kernel = kernel_for(node)
    destroyed = sorted({j for ins in getattr(node.op, "destroy_map", {}).values() for j in ins})
    if not destroyed:
        return kernel

    def run(*args):
        args = list(args)
        for j in destroyed:
            args[j] = np.array(args[j], copy=True)
        return kernel(*args)
    return run


def host_fallback(node, ctx, reason):
    """Run ``node``'s NumPy kernel on downloaded inputs; outputs stay on the host.

    Their upload happens only if a device kernel reads them (counted then).
    """
    FALLBACKS[f"{type(node.op).__name__}: {reason}"] += 1
    kernel = numpy_kernel(node)
    n_out = len(node.outputs)

    def wrap(value):
        value = np.asarray(value)
        return DeviceArray(ctx, value.shape, value.dtype, host=value)

    def run(*args):
        result = kernel(*[host_view(a) for a in args])
        if n_out == 1:
            return wrap(result)
        return tuple(wrap(r) for r in result)
    run.fallback = reason
    return run
