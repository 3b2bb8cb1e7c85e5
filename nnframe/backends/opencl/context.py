"""Choosing an OpenCL device and holding its context, queue and memory pool.

The device comes from ``config.opencl_platform`` and ``config.opencl_device``
(indices, as listed by :func:`describe_devices`).  Unset, the first GPU of
any platform is taken, else the first device of the first platform that has
one (PoCL's CPU device on a machine without a GPU driver).

>>> from nnframe.backends.opencl.context import get_context
>>> get_context().device.name          # doctest: +SKIP
'pthread-Intel(R) Xeon(R) Processor @ 2.80GHz'
"""
import threading
from collections import deque

import numpy as np

from nnframe.backends.opencl.target import device_widths
from nnframe.config import config

__all__ = ["DeviceContext", "get_context", "describe_devices", "OpenCLUnavailable",
           "INSTALL_HINT"]

INSTALL_HINT = ("pip install 'nnframe[opencl]' (which brings pyopencl and "
                "pocl-binary-distribution, a CPU OpenCL device that needs no driver)")

_CONTEXTS = {}


class OpenCLUnavailable(RuntimeError):
    """pyopencl is missing, no OpenCL platform is found, or a device index is wrong."""


def _import_cl():
    try:
        import pyopencl
    except ImportError as exc:
        raise OpenCLUnavailable(
            f"the OpenCL backend needs pyopencl, which cannot be imported ({exc}). "
            f"Install it with: {INSTALL_HINT}") from None
    return pyopencl


def _platforms(cl):
    try:
        platforms = cl.get_platforms()
    except cl.Error:  # PLATFORM_NOT_FOUND_KHR: no ICD is installed
        platforms = []
    if not platforms:
        raise OpenCLUnavailable(
            "no OpenCL platform was found. Install one: pip install pocl-binary-distribution "
            "(PoCL, a CPU device that needs no driver; also brought by "
            "pip install 'nnframe[opencl]'), or your GPU vendor's OpenCL driver")
    return platforms


def _devices(cl, platform):
    try:
        return platform.get_devices()
    except cl.Error:  # DEVICE_NOT_FOUND
        return []


def describe_devices():
    """A text listing every OpenCL platform and device with the indices to select them."""
    cl = _import_cl()
    lines = []
    for p, platform in enumerate(_platforms(cl)):
        lines.append(f"platform {p}: {platform.name} ({platform.version})")
        for d, device in enumerate(_devices(cl, platform)):
            kind = cl.device_type.to_string(device.type)
            lines.append(f"  device {d}: {device.name} [{kind}]")
    return "\n".join(lines)


def _select(cl, platform_index, device_index):
    """The (platform index, device index, device) chosen by the config flags."""
    platforms = _platforms(cl)
    listing = "; ".join(f"{p}: {pl.name}" for p, pl in enumerate(platforms))
    if platform_index is not None:
        if not 0 <= platform_index < len(platforms):
            raise OpenCLUnavailable(
                f"config.opencl_platform={platform_index} is out of range: the OpenCL "
                f"platforms are {listing}")
        candidates = [platform_index]
    else:
        candidates = list(range(len(platforms)))
    if device_index is not None:
        p = candidates[0]
        devices = _devices(cl, platforms[p])
        if not 0 <= device_index < len(devices):
            names = "; ".join(f"{d}: {dev.name}" for d, dev in enumerate(devices)) or "none"
            raise OpenCLUnavailable(
                f"config.opencl_device={device_index} is out of range: platform {p} "
                f"({platforms[p].name}) has the devices {names}")
        return p, device_index, devices[device_index]
    found = [(p, d, dev) for p in candidates for d, dev in enumerate(_devices(cl, platforms[p]))]
    if not found:
        raise OpenCLUnavailable(
            f"no OpenCL device was found on the platforms {listing}. Install PoCL "
            "(pip install pocl-binary-distribution) or a GPU driver")
    gpus = [f for f in found if f[2].type & cl.device_type.GPU]
    return (gpus or found)[0]


def _build_options(cl, device):
    """Compiler options that make float arithmetic round as NumPy's does.

    OpenCL lets float32 division and sqrt be off by a few ulps unless the
    device can round them correctly and is asked to (NVIDIA's driver is off
    by default).
    """
    options = []
    if device.single_fp_config & cl.device_fp_config.CORRECTLY_ROUNDED_DIVIDE_SQRT:
        options.append("-cl-fp32-correctly-rounded-divide-sqrt")
    return options


class DeviceContext:
    """One device: its context, in-order queue, memory pool and error flag.

    Attributes
    ----------
    device, context, queue : pyopencl objects
    fp64 : bool
        Whether the device computes in double precision (cl_khr_fp64).
    cpu : bool
        Whether the device is a CPU (PoCL's, on a machine without a GPU driver).
    vector_bits, tile_bits : int
        The widest vectors of its elementwise kernels and of its GEMM tiles
        (:mod:`~nnframe.backends.opencl.target`; ``config.opencl_max_vector_bits``
        caps them when kernels are generated).
    build_options : list of str
        Options of every program build (:func:`_build_options`).
    key : str
        Identifies the device, driver and build options (part of the program
        cache key).
    """

    def __init__(self, cl, platform_index, device_index, device):
        from pyopencl.tools import ImmediateAllocator, MemoryPool
        self.cl = cl
        self.platform_index = platform_index
        self.device_index = device_index
        self.device = device
        self.context = cl.Context([device])
        self.queue = cl.CommandQueue(self.context, device)
        # Freed buffers go back to the pool: allocation is a dict lookup, and the
        # in-order queue makes reuse safe (a later kernel runs after earlier readers).
        self.pool = MemoryPool(ImmediateAllocator(self.queue))
        self.fp64 = "cl_khr_fp64" in device.extensions
        self.cpu = bool(device.type & cl.device_type.CPU)
        self.vector_bits, self.tile_bits = device_widths(cl, device)
        self.build_options = _build_options(cl, device)
        self.key = "|".join([device.platform.name, device.platform.version, device.name,
                             device.version, device.driver_version, cl.VERSION_TEXT,
                             " ".join(self.build_options)])
        # Kernels that find a bad index (on the device) set err[0] to a code
        # registered in `errors`; it is read at the next download.
        self.err = cl.Buffer(self.context, cl.mem_flags.READ_WRITE, 8)
        cl.enqueue_copy(self.queue, self.err, np.zeros(2, np.int32), is_blocking=True)
        self.errors = {}
        self.pending_check = False
        # events of uploads not known to be done: of callers' arrays, and of staged copies
        # (array.settle_uploads)
        self.pending_uploads = []
        self.staged_uploads = deque()
        # staging arrays kept for reuse, by size: [array, event of its last upload]
        self.staging = {}
        # while a function's call is recorded for a launch plan: what its kernels do
        # (replay.GroupRecorder: allocations, uploads, launches, host reads, waits)
        self.recorder = None
        # one call at a time on this device: a call sets its kernel objects' arguments and
        # then enqueues them, and rotates the staging slots; two threads interleaving those
        # steps gave wrong results (the queue is in order anyway: nothing is lost)
        self.lock = threading.RLock()

    def __repr__(self):
        return (f"<OpenCL device {self.device.name!r} (platform {self.platform_index}, "
                f"device {self.device_index})>")

    def allocate(self, nbytes):
        """A device buffer of at least ``nbytes`` for a kernel's output or scratch."""
        buffer = self.pool.allocate(max(int(nbytes), 8))
        recorder = self.recorder
        if recorder is not None:
            recorder.allocated(buffer, nbytes)
        return buffer

    def register_error(self, message):
        """A code (> 0) that a kernel writes to ``err`` to raise ``message`` later."""
        code = len(self.errors) + 1
        self.errors[code] = message
        return code

    def check_errors(self, counters):
        """Raise the error a kernel flagged since the last check (reads 8 bytes)."""
        if not self.pending_check:
            return
        self.pending_check = False
        from nnframe.backends.opencl.array import blocking_copy
        flag = np.zeros(2, np.int32)
        blocking_copy(self, flag, self.err)
        counters["checks"] += 1
        if flag[0]:
            blocking_copy(self, self.err, np.zeros(2, np.int32))
            message = self.errors.get(int(flag[0]), "a kernel reported an error")
            raise IndexError(f"{message} (the bad index was {int(flag[1])}; found on the "
                             "device, reported at the next download)")


def get_context():
    """The :class:`DeviceContext` selected by ``config.opencl_platform``/``opencl_device``."""
    cl = _import_cl()
    selection = (config.opencl_platform, config.opencl_device)
    ctx = _CONTEXTS.get(selection)
    if ctx is None:
        p, d, device = _select(cl, *selection)
        ctx = DeviceContext(cl, p, d, device)
        _CONTEXTS[selection] = ctx
    return ctx
