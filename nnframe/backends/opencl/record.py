"""Recording what one group of a linked OpenCL function does, for a launch plan.

:mod:`~nnframe.backends.opencl.replay` captures calls group by group: while a group
runs, ``ctx.recorder`` is a :class:`GroupRecorder`, which the backend's hooks tell of
every allocation (``ctx.allocate``), upload, kernel launch (``KernelHandle``), scalar
passed by value (``host_scalar``) and blocking wait; the group's dynamic inputs are
:class:`Watched` meanwhile, so reading their values on the host is noticed too.
:meth:`GroupRecorder.finish` turns that into the group's entry of the plan.
"""
import threading

import numpy as np

from nnframe.backends.opencl.array import DeviceArray

__all__ = ["GroupRecorder", "Watched", "geometry", "agree"]


def geometry(a):
    """What a plan assumes of a value: shape, dtype, strides, offset, and whether it has
    a device buffer and a host copy."""
    return (a.shape, a.dtype, a.strides, a.offset, a.data is None, a.host is None)


_HOST = DeviceArray.host  # the slot's descriptor


class Watched(DeviceArray):
    """A dynamic input of a group being captured: reading its host copy is recorded."""

    __slots__ = ()

    @property
    def host(self):
        value = _HOST.__get__(self)
        recorder = self.ctx.recorder
        if value is not None and recorder is not None:
            recorder.read_host()
        return value

    @host.setter
    def host(self, value):
        _HOST.__set__(self, value)


# -- recording one group -----------------------------------------------------------------

class GroupRecorder:
    """What one group does while it runs: the backend's hooks call these methods.

    ``args`` are the group's input values.  ``actions`` becomes a list of
    ``("alloc", nbytes)``, ``("upload", p)``, ``("check", function, refs)`` (a
    :func:`~nnframe.backends.opencl.array.host_check`, ``("host", p)`` refs standing for
    input p's host copy) and ``("launch", handle, global, local, refs)``, where each ref
    of a launch argument is ``("in", p)`` (input p's buffer),
    ``("alloc", j)``, ``("scalar", p)`` (input p's host value, by value), ``("persist",
    buffer)`` or ``("const", value)``.  ``live`` names the first thing that makes the
    group unplannable, or stays None.
    """

    def __init__(self, args, roots, dynamic):
        self.args = args
        self.roots = roots            # per input: what its buffer comes from (aliasing)
        self.dynamic = dynamic        # per input: whether it may change from call to call
        self.actions = []
        self.allocs = {}              # id(buffer) -> j
        self.kept = []                # the buffers and scalars, alive (ids stay unique)
        self.scalars = {}             # id(value) -> input position
        self.used_scalars = set()
        self.live = None
        self.thread = threading.get_ident()

    def _why(self, reason):
        if self.live is None:
            self.live = reason

    def _position(self, a):
        """The input position holding ``a``; None when none does, or when inputs of other
        roots do (one array passed as two inputs: a replay could not tell them apart)."""
        found = [p for p, value in enumerate(self.args) if value is a]
        if len({self.roots[p] for p in found}) > 1:
            self._why("two inputs are one array")
            return None
        return found[0] if found else None

    # hooks -----------------------------------------------------------------------------
    def allocated(self, buffer, nbytes):
        if threading.get_ident() != self.thread:
            return
        self.allocs[id(buffer)] = len(self.allocs)
        self.kept.append(buffer)
        self.actions.append(("alloc", int(nbytes)))

    def upload(self, a):
        if threading.get_ident() != self.thread:
            return
        p = self._position(a)
        if p is None and a.base is not None:   # a view made here of an input on the host
            p = self._position(a.base)
        if p is None:
            self._why("uploads an array it made on the host")
        else:
            self.actions.append(("upload", p))

    def scalar(self, a, value):
        if threading.get_ident() != self.thread:
            return
        p = self._position(a)
        if p is None:
            self._why("passes by value a scalar of an array it made")
        else:
            self.scalars[id(value)] = p
            self.kept.append(value)

    def host_check(self, check, args):
        if threading.get_ident() != self.thread:
            return
        refs = []
        for a in args:
            if isinstance(a, DeviceArray):
                p = self._position(a)
                if p is None:
                    self._why("checks the values of an array it made")
                    return
                refs.append(("host", p))
            else:
                refs.append(("const", a))
        self.actions.append(("check", check, tuple(refs)))

    def read_host(self):
        if threading.get_ident() == self.thread:
            self._why("reads input values on the host")

    def waited(self):
        if threading.get_ident() == self.thread:
            self._why("waits for the device")

    def launch(self, handle, global_size, local_size, args):
        if threading.get_ident() != self.thread:
            return
        refs = tuple(self._ref(a) for a in args)
        local = None if local_size is None else tuple(local_size)
        self.actions.append(("launch", handle, tuple(global_size), local, refs))

    # tracing a value to where it comes from ---------------------------------------------
    def buffer_ref(self, buffer):
        """``("alloc", j)``, ``("in", p)`` or ``("persist", buffer)``; None if ambiguous."""
        j = self.allocs.get(id(buffer))
        if j is not None:
            return ("alloc", j)
        found = [p for p, v in enumerate(self.args)
                 if isinstance(v, DeviceArray) and v.data is buffer]
        if found:
            if len({self.roots[p] for p in found}) > 1:
                self._why("two inputs share a buffer")
                return None
            return ("in", found[0])
        return ("persist", buffer)

    def _ref(self, arg):
        if isinstance(arg, _MEMORY):
            return self.buffer_ref(arg)
        p = self.scalars.get(id(arg))
        if p is not None:
            self.used_scalars.add(id(arg))
            return ("scalar", p)
        return ("const", arg)

    def finish(self, outputs, checks):
        """The group's entry of a plan: ``("live", reason)``, ``("static", outputs)`` or
        ``("replay", actions, output refs, output geometries, checks)``."""
        if set(self.scalars) - self.used_scalars:
            # a host value reached a launch through a conversion: it would be frozen
            self._why("converts a host value before passing it")
        if self.live is not None:
            return ("live", self.live)
        # host-only results computed from shapes and constants alone: the same every call
        if not self.actions and not checks and all(
                o.data is None and o.host is not None for o in outputs) and not any(
                d and _HOST.__get__(a) is not None for a, d in zip(self.args, self.dynamic)):
            return ("static", tuple(outputs))
        refs = []
        for o in outputs:
            if o.data is None or o.host is not None or o.base is not None:
                return ("live", "returns a value with a host copy")
            refs.append(self.buffer_ref(o.data))
        if self.live is not None:
            return ("live", self.live)
        return ("replay", self.actions, tuple(refs), tuple(geometry(o) for o in outputs),
                checks)


def _memory_type():
    import pyopencl
    return pyopencl.MemoryObjectHolder


_MEMORY = _memory_type()


def _same(a, b):
    """Whether two recorded values are the same (buffers and handles by identity)."""
    if isinstance(a, (np.ndarray, np.generic)):
        return (type(a) is type(b) and a.dtype == b.dtype and np.shape(a) == np.shape(b)
                and a.tobytes() == b.tobytes())
    if isinstance(a, _MEMORY) or hasattr(a, "kernel"):
        return a is b
    if isinstance(a, (tuple, list)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b)))
    if type(a).__name__ == "LocalMemory":
        return type(b) is type(a) and a.size == b.size
    if isinstance(a, DeviceArray):
        return (isinstance(b, DeviceArray) and geometry(a) == geometry(b)
                and _same(np.asarray(_HOST.__get__(a)), np.asarray(_HOST.__get__(b))))
    return type(a) is type(b) and a == b


def agree(first, second):
    """The entry of a group for a plan, given its two captures (see Replayer._capture: a
    live entry ends with its results' geometries)."""
    if first[0] == second[0] and (first[0] == "live" or _same(first[1:], second[1:])):
        return second
    return ("live", "its captures differ", _geometries(second))


def _geometries(entry):
    """The geometries of a group's results, from its entry."""
    if entry[0] == "live":
        return entry[2]
    if entry[0] == "static":
        return tuple(geometry(o) for o in entry[1])
    return entry[3]
