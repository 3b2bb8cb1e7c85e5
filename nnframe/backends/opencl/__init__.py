"""The OpenCL backend: device-resident values, generated kernels, one program per function.

``function(..., mode='opencl')`` (or ``config.device = 'opencl'``, or
``NNFRAME_FLAGS=device=opencl``) runs a graph here.  The device is chosen by
``config.opencl_platform`` / ``config.opencl_device`` (see
:func:`describe_devices`).  This package imports without pyopencl; asking for
the backend without it (or without any OpenCL platform) raises a RuntimeError
that says what to install.  There is no silent fallback to NumPy.

>>> import numpy as np, nnframe.tensor as T
>>> from nnframe import function
>>> x = T.fvector('x')
>>> f = function([x], T.tanh(x * 2.0) + 1, mode='opencl')      # doctest: +SKIP
>>> f(np.zeros(3, 'float32'))                                    # doctest: +SKIP
array([1., 1., 1.], dtype=float32)

How values move (see docs/opencl.md): inputs are uploaded when a kernel
first reads them; shared variables are uploaded once and then stay on the
device (updates store device arrays in their containers); outputs are
downloaded.  :func:`transfer_counts` reports every transfer.
"""
__all__ = ["get_backend", "OpenCLBackend", "transfer_counts", "reset_transfer_counts",
           "device_counts", "describe_devices", "fallbacks"]

_BACKENDS = {}


def get_backend():
    """The backend for the device selected by the config flags (created on first use).

    Raises RuntimeError (:class:`~nnframe.backends.opencl.context.OpenCLUnavailable`)
    when pyopencl is missing, no platform/device exists, or an index is out of range.
    """
    from nnframe.backends.opencl.context import get_context
    ctx = get_context()
    backend = _BACKENDS.get(id(ctx))
    if backend is None:
        backend = _BACKENDS[id(ctx)] = OpenCLBackend(ctx)
    return backend


def describe_devices():
    """A text listing the OpenCL platforms and devices with their indices."""
    from nnframe.backends.opencl.context import describe_devices as describe
    return describe()


def transfer_counts():
    """A dict of host<->device transfers since the last reset.

    Keys: ``upload``, ``download`` (numbers of transfers), ``upload_bytes``,
    ``download_bytes``, and ``checks`` (reads of the 8-byte error flag after
    kernels that validated indices on the device).
    """
    from nnframe.backends.opencl.array import TRANSFERS
    keys = ("upload", "download", "upload_bytes", "download_bytes", "checks")
    return {k: TRANSFERS[k] for k in keys}


def device_counts():
    """What the host asked of the device since the last reset: :func:`transfer_counts`'
    keys, plus ``kernels`` (kernel launches enqueued), ``waits`` (blocking copies: the host
    stopped until the device caught up) and ``wait_seconds`` (the time blocked).

    A compiled function's profile reports them per call (``config.profile``).
    """
    from nnframe.backends.opencl.array import TRANSFERS
    counts = transfer_counts()
    counts.update(kernels=TRANSFERS["kernels"], waits=TRANSFERS["waits"],
                  wait_seconds=TRANSFERS["wait_seconds"])
    return counts


def reset_transfer_counts():
    """Set every count of :func:`transfer_counts` and :func:`device_counts` back to 0."""
    from nnframe.backends.opencl.array import TRANSFERS
    TRANSFERS.clear()


def fallbacks():
    """``{"Op: reason": count}`` of the nodes compiled to run on the host (see docs/opencl.md)."""
    from nnframe.backends.opencl.registry import FALLBACKS
    return dict(FALLBACKS)


class OpenCLBackend:
    """The backend protocol of :func:`nnframe.core.link.link` for one OpenCL device."""

    name = "opencl"
    host = False
    #: Out(borrow=True) outputs are returned as DeviceArrays, read when the caller asks
    lazy_outputs = True

    def __init__(self, ctx):
        from nnframe.backends.opencl import kernels  # noqa: F401  (registers the factories)
        from nnframe.backends.opencl.array import DeviceArray
        self.ctx = ctx
        self.native_type = DeviceArray

    def __repr__(self):
        return f"<OpenCLBackend on {self.ctx.device.name!r}>"

    def make_groups(self, nodes, final, one_per_node=False):
        """The kernels of all ``nodes``, built as one OpenCL program: one per node, except an
        elementwise node computed in the kernel producing its input (a GEMM's or a
        reduction's epilogue, see :mod:`~nnframe.backends.opencl.fusion`; not with
        ``one_per_node``)."""
        from nnframe.backends.opencl.fusion import make_groups
        from nnframe.backends.opencl.program import ProgramBuilder
        builder = ProgramBuilder(self.ctx)
        groups = make_groups(builder, nodes, final, one_per_node)
        builder.build()
        return groups

    @property
    def call_lock(self):
        """The device's lock: a linked function's call holds it (one call at a time)."""
        return self.ctx.lock

    def make_replayer(self, linked):
        """The run of ``linked`` with launch plans (:mod:`~nnframe.backends.opencl.replay`),
        or None when ``config.opencl_replay`` is off."""
        from nnframe.config import config
        if not config.opencl_replay:
            return None
        from nnframe.backends.opencl.replay import Replayer
        return Replayer(linked, self)

    def to_native(self, value):
        """A DeviceArray for ``value`` (uploaded when a kernel first needs it)."""
        from nnframe.backends.opencl.array import to_native
        return to_native(self.ctx, value)

    def end_call(self):
        """At the end of every call: wait for uploads of the caller's arrays still in flight
        (none when the call read a result back after them)."""
        from nnframe.backends.opencl.array import settle_uploads
        settle_uploads(self.ctx)

    @staticmethod
    def counters():
        """:func:`device_counts` (the profile's per-call device counters)."""
        return device_counts()

    @staticmethod
    def to_host(value):
        """A new ndarray (a download, unless the value is only on the host)."""
        from nnframe.backends.opencl.array import to_host
        return to_host(value)
