"""Compiling an inner graph (a loop's step, a branch) for the device it runs in.

The kernel of an Op holding an inner graph calls the inner graph's linked code
with device arrays; with :class:`DeviceOutputsMode` that code also returns
device arrays, so the data makes no host round trip between the outer and the
inner graph.
"""
from nnframe.core.mode import Mode, get_mode

__all__ = ["DeviceOutputsMode"]


class _DeviceOutputs:
    """The OpenCL backend, except that linked functions return device arrays (no download)."""

    host = False

    def __init__(self, backend):
        self.backend = backend
        self.name = backend.name
        self.native_type = backend.native_type
        self.to_native = backend.to_native
        self.make_groups = backend.make_groups

    @staticmethod
    def to_host(value):
        return value


class DeviceOutputsMode(Mode):
    """The ``'opencl'`` mode (same rewrites) for inner graphs: outputs stay on the device.

    Only for linked code called with device arrays (``f.maker.linked.run``):
    calling the Function itself would hand device arrays to the caller.
    """

    def __init__(self):
        super().__init__("opencl", rewrite=get_mode("opencl").rewrite,
                         name="opencl (device outputs)")

    def get_backend(self):
        return _DeviceOutputs(super().get_backend())
