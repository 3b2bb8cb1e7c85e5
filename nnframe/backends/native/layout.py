"""Where CPython keeps a tuple's items and NumPy an array's data pointer.

The generated C takes ONE Python object, a tuple of ndarrays, and reads the
arrays' data pointers straight from the objects: with ctypes that costs
0.3 microseconds per call, where asking each array for ``.ctypes.data``
costs about one microsecond per array.  The C code is compiled without
``Python.h`` (which a machine may lack), so the two offsets it needs are
measured here, on live objects, and checked; an interpreter whose objects
are laid out otherwise (a debug or free-threaded build) gets a clear
:class:`~nnframe.backends.native.compiler.NativeUnavailable` and the NumPy
backend.

>>> tuple_items, array_data = offsets()
>>> tuple_items, array_data                          # doctest: +SKIP
(24, 16)
"""
import ctypes

import numpy as np

__all__ = ["offsets"]

_OFFSETS = None


def _find(obj, expected, start=8, stop=96):
    """The byte offset in ``obj``'s struct of the pointer-sized word ``expected``, or None."""
    base = id(obj)
    for off in range(start, stop, ctypes.sizeof(ctypes.c_void_p)):
        if ctypes.c_void_p.from_address(base + off).value == expected:
            return off
    return None


def offsets():
    """``(tuple_items, array_data)``: byte offsets of ``ob_item[0]`` in a tuple and of
    ``data`` in an ndarray; NativeUnavailable when they cannot be found for sure."""
    global _OFFSETS
    if _OFFSETS is None:
        _OFFSETS = _measure()
    return _OFFSETS


def _measure():
    from nnframe.backends.native.compiler import NativeUnavailable
    probes = [np.arange(3.0), np.zeros((2, 5), np.float32)[:, 1:]]
    items = tuple(probes)
    tuple_items = _find(items, id(probes[0]))
    array_data = _find(probes[0], probes[0].ctypes.data)
    ok = (tuple_items is not None and array_data is not None
          and ctypes.c_void_p.from_address(id(items) + tuple_items + 8).value == id(probes[1])
          and ctypes.c_void_p.from_address(id(probes[1]) + array_data).value
          == probes[1].ctypes.data)
    if not ok:
        raise NativeUnavailable(
            "the native backend reads tuples and NumPy arrays directly, and this Python/NumPy "
            "lays them out in a way it does not recognise (a debug or free-threaded build?); "
            "use mode='numpy'")
    return tuple_items, array_data
