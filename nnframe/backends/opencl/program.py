"""One OpenCL program per compiled function, with an in-memory and an on-disk cache.

Kernel factories add their kernels' source to a :class:`ProgramBuilder` and
get back :class:`KernelHandle` objects; :meth:`ProgramBuilder.build` then
compiles everything as ONE program (on PoCL, 20 kernels in one program build
in about the time of one; 20 programs take 20 times as long) and binds the
handles.  Built binaries are stored under ``config.compiledir/opencl/``,
keyed by a hash of the source and of the device and driver, so a second
process loads them instead of compiling (about 50 ms instead of 300+ ms).

A program is used only once every kernel asked for is in it.  PoCL 3.0's own
kernel cache has handed back programs without kernels (512-bit vectors
compiled for an AVX2 target, see :mod:`~nnframe.backends.opencl.target`);
such a program is rebuilt from a source the driver has not cached, and if the
driver still returns no kernels, :class:`ProgramError` says what to do.  Its
binary is never read or stored, and it is never released (see
:func:`_never_release`).

>>> b = ProgramBuilder(ctx)                                     # doctest: +SKIP
>>> k = b.kernel("__kernel void fill(__global float* x) { x[get_global_id(0)] = 1; }")  # doctest: +SKIP
>>> b.build(); k(ctx.queue, (16,), None, buf)                   # doctest: +SKIP
"""
import ctypes
import hashlib
import os
import re
import tempfile
import time

from nnframe.backends.opencl.array import TRANSFERS
from nnframe.config import config

__all__ = ["ProgramBuilder", "KernelHandle", "PREAMBLE", "cache_dir", "STATS", "ProgramError"]

#: what happened to program builds in this process (for tests and benchmarks)
STATS = {"built": 0, "loaded": 0, "memory_hits": 0, "build_seconds": 0.0, "rebuilt": 0}


class ProgramError(RuntimeError):
    """The OpenCL driver built a program but returned it without some of its kernels."""


_PROGRAMS = {}  # (device key, source hash) -> pyopencl Program

# Helpers that generated kernels call; NumPy's exact semantics where C differs.
PREAMBLE = r"""
#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
/* a * b + c rounds twice, as in NumPy: no silent fusing into fma() */
#pragma OPENCL FP_CONTRACT OFF
#define NNF_ERR(err, code, index) \
    do { if (atomic_cmpxchg((err), 0, (code)) == 0) (err)[1] = (int)(index); } while (0)
"""

_NAME = re.compile(r"__kernel\s+void\s+(\w+)\s*\(")


def cache_dir():
    """Where built program binaries are stored."""
    return os.path.join(config.compiledir, "opencl")


class KernelHandle:
    """A kernel of a program not built yet; callable like a pyopencl Kernel once it is."""

    __slots__ = ("name", "kernel", "scalar_dtypes", "ctx")

    def __init__(self, name, scalar_dtypes=None, ctx=None):
        self.name = name
        self.kernel = None
        self.scalar_dtypes = scalar_dtypes
        self.ctx = ctx

    def __call__(self, queue, global_size, local_size, *args):
        TRANSFERS["kernels"] += 1
        ctx = self.ctx
        if ctx is None:
            return self.kernel(queue, global_size, local_size, *args)
        recorder = ctx.recorder
        if recorder is not None:
            recorder.launch(self, global_size, local_size, args)
        with ctx.lock:   # (arguments set, then enqueued: one thread at a time)
            return self.kernel(queue, global_size, local_size, *args)


class ProgramBuilder:
    """Collects the kernels of one function and builds them as one program."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.sources = {}     # kernel name -> source (one definition per name)
        self.helpers = {}     # helper name -> source (functions used by kernels)
        self.handles = {}
        self.program = None

    def helper(self, name, source):
        """Add a helper function (once, whatever the number of kernels using it)."""
        self.helpers.setdefault(name, source)

    def kernel(self, source, scalar_dtypes=None):
        """A handle for the ``__kernel`` defined in ``source`` (deduplicated by name).

        Generated kernels are named after a hash of their text, so identical
        kernels of different nodes are compiled once.  ``scalar_dtypes`` is
        pyopencl's per-argument list (None for buffers) that lets plain Python
        numbers be passed as scalar arguments.
        """
        match = _NAME.search(source)
        if match is None:
            raise ValueError("kernel source without a __kernel function")
        name = match.group(1)
        old = self.sources.get(name)
        if old is not None and old != source:
            raise ValueError(f"two different kernels are named {name}")
        self.sources[name] = source
        handle = self.handles.get(name)
        if handle is None:
            handle = self.handles[name] = KernelHandle(name, scalar_dtypes, self.ctx)
        return handle

    def source(self):
        parts = [PREAMBLE]
        parts += list(self.helpers.values())  # in order: a helper may call an earlier one
        parts += [self.sources[k] for k in sorted(self.sources)]
        return "\n".join(parts)

    def build(self):
        """Compile (or fetch from a cache) the program and bind every handle."""
        if not self.handles:
            return
        source = self.source()
        self.program = get_program(self.ctx, source, list(self.handles))
        cl = self.ctx.cl
        for name, handle in self.handles.items():
            kernel = cl.Kernel(self.program, name)
            if handle.scalar_dtypes is not None:
                kernel.set_scalar_arg_dtypes(handle.scalar_dtypes)
            handle.kernel = kernel


def get_program(ctx, source, kernel_names=()):
    """The built program for ``source`` on ``ctx``'s device: memory, disk, or a build.

    Every name in ``kernel_names`` is checked to be in the program (see the
    module's docstring); a program without them is never cached or stored.
    """
    digest = hashlib.sha256((ctx.key + "\0" + source).encode()).hexdigest()
    key = (ctx.key, digest)
    program = _PROGRAMS.get(key)
    if program is not None:
        STATS["memory_hits"] += 1
        return program
    start = time.perf_counter()
    path = os.path.join(cache_dir(), digest[:2], digest + ".bin")
    program = _load(ctx, path)
    if program is not None and _missing(ctx, program, kernel_names):
        _never_release(program)
        program = None  # a stored binary without its kernels: build again and overwrite
    if program is None:
        program = _compile(ctx, source)
        if _missing(ctx, program, kernel_names):
            _never_release(program)
            # Not stored: reading the binary of a program this driver mishandled is
            # what crashed (PoCL compiles it then, and aborted on 512-bit vectors).
            program = _rebuild(ctx, source, kernel_names)
        else:
            _store(ctx, program, path)
        STATS["built"] += 1
    else:
        STATS["loaded"] += 1
    STATS["build_seconds"] += time.perf_counter() - start
    _PROGRAMS[key] = program
    return program


def _compile(ctx, source):
    cl = ctx.cl
    try:
        return cl.Program(ctx.context, source).build(options=ctx.build_options)
    except cl.RuntimeError as exc:  # a bug in generated code: show where
        numbered = "\n".join(f"{k + 1:5d} {line}" for k, line in enumerate(source.splitlines()))
        raise RuntimeError(f"OpenCL program build failed on {ctx.device.name}:\n{exc}\n"
                           f"--- source ---\n{numbered}") from None


def _kernel_names(ctx, program):
    """The names of the kernels the driver found in ``program``."""
    try:
        names = program.get_info(ctx.cl.program_info.KERNEL_NAMES)
    except ctx.cl.Error:
        return set()
    return set(filter(None, names.split(";")))


def _missing(ctx, program, kernel_names):
    """The kernels asked for that ``program`` lacks, sorted."""
    return sorted(set(kernel_names) - _kernel_names(ctx, program))


def _never_release(program):
    """Keep a program the driver returned without its kernels until the process ends.

    PoCL 3.0 aborts the whole process (``still have references to IRs - can't
    release LLVM context !``) when the context of such a program is released,
    even after the program itself was.  A program holds its context, so a
    program never released lets the process exit normally.
    """
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(program))


def _rebuild(ctx, source, kernel_names):
    """Compile ``source`` again as a text the driver's own kernel cache has never seen.

    PoCL keys its cache by the preprocessed source (comments do not count), so
    a declaration with a random name makes it compile instead of handing back
    the broken program it cached.
    """
    STATS["rebuilt"] += 1
    nonce = f"\n__constant int nnf_rebuilt_{os.urandom(8).hex()} = 0;\n"
    program = _compile(ctx, source + nonce)
    missing = _missing(ctx, program, kernel_names)
    if missing:
        _never_release(program)
        device = ctx.device
        raise ProgramError(
            f"the OpenCL driver built a program but returned it without the kernels "
            f"{', '.join(missing)}, even when compiled afresh, on device {device.name!r} "
            f"(platform {device.platform.name!r}, driver {device.driver_version}, "
            f"{device.version}). This is a driver bug (PoCL 3.0 does it to programs using "
            "vectors wider than the CPU target it compiles for). Work around it by capping the "
            "kernels' vectors (NNFRAME_FLAGS=opencl_max_vector_bits=128), by turning the "
            "driver's kernel cache off (POCL_KERNEL_CACHE=0; or delete ~/.cache/pocl), or by "
            "running on NumPy (mode='numpy', config.device='numpy')")
    return program


def _load(ctx, path):
    if not os.path.isfile(path):
        return None
    cl = ctx.cl
    try:
        with open(path, "rb") as fh:
            binary = fh.read()
        return cl.Program(ctx.context, [ctx.device], [binary]).build(options=ctx.build_options)
    except (OSError, cl.Error):
        return None  # unreadable or stale (driver changed): rebuild and overwrite


def _store(ctx, program, path):
    try:
        (binary,) = program.get_info(ctx.cl.program_info.BINARIES)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # Write then rename, so a concurrent reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(binary)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache directory only costs rebuilds
