"""Bounds on what untrusted files may make nnframe allocate.

Data files, checkpoints and recipes come from strangers.  A tiny ``.npz`` or
HDF5 file can *declare* a 4 TB array; loaders call :func:`check_array_size`
with the declared shape and dtype before reading anything, so such a file
gets a clear error instead of a ``MemoryError`` (or the machine swapping).

The limit is ``config.max_array_bytes`` (e.g.
``NNFRAME_FLAGS=max_array_bytes=2e9``); unset, it is the machine's physical
memory.

>>> check_array_size((1000, 1000), "float32", "x in data.npz")
4000000
>>> check_array_size((10 ** 7, 10 ** 7), "float64", "x in data.npz")
Traceback (most recent call last):
...
nnframe.limits.ArrayTooLarge: x in data.npz declares an array of shape (10000000, 10000000)
and dtype float64: 800.0 TB, more than the limit of ...
"""
import math
import os

import numpy as np

from nnframe.config import config

__all__ = ["ArrayTooLarge", "check_array_size", "max_array_bytes"]


class ArrayTooLarge(ValueError):
    """A file declares an array larger than :func:`max_array_bytes`."""


def max_array_bytes():
    """``config.max_array_bytes``, or the machine's physical memory when it is unset."""
    if config.max_array_bytes is not None:
        return config.max_array_bytes
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: 64 GiB
        return 1 << 36


def _human(nbytes):
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if nbytes < 1000 or unit == "PB":
            return f"{nbytes:.1f} {unit}" if unit != "bytes" else f"{nbytes} bytes"
        nbytes /= 1000


def check_array_size(shape, dtype, what, error=ArrayTooLarge):
    """The byte size of an array of ``shape`` and ``dtype``; raises ``error`` above the limit.

    ``what`` names the array and its file for the message.  Exact in Python
    integers, so a declared shape whose size overflows int64 is caught too.
    """
    nbytes = math.prod(int(n) for n in shape) * np.dtype(dtype).itemsize
    limit = max_array_bytes()
    if nbytes > limit:
        raise error(f"{what} declares an array of shape {tuple(int(n) for n in shape)} and "
                    f"dtype {np.dtype(dtype)}: {_human(nbytes)}, more than the limit of "
                    f"{_human(limit)} (config.max_array_bytes; unset it is the machine's "
                    "memory)")
    return nbytes
