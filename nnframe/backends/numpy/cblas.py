"""Direct calls to the BLAS that NumPy itself links (OpenBLAS), through ctypes.

NumPy exposes ``dot`` but not GEMM's ``C = alpha*A*B + beta*C``; that form
lets an SGD update ``W -= lr * dot(a, b)`` run as one call writing into
``W``'s own buffer.  NumPy wheels ship OpenBLAS as ``scipy_openblas64``
(64-bit integers, ``scipy_`` symbol prefix); other builds may have a plain
``cblas_sgemm``.  When no usable BLAS is found, :func:`gemm_into` returns
False and the caller falls back to NumPy.
"""
import ctypes
import glob
import os

import numpy as np

__all__ = ["gemm_into", "available"]

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


def _find_functions():
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs",
                                  "libscipy_openblas*"))
    libs += glob.glob(os.path.join(os.path.dirname(np.__file__), ".dylibs", "libscipy_openblas*"))
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, int_type in (("scipy_cblas_", ctypes.c_int64), ("cblas_", ctypes.c_int)):
            for suffix in ("64_", ""):
                try:
                    s = getattr(lib, f"{prefix}sgemm{suffix}")
                    d = getattr(lib, f"{prefix}dgemm{suffix}")
                except AttributeError:
                    continue
                for fn, real in ((s, ctypes.c_float), (d, ctypes.c_double)):
                    fn.restype = None
                    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, int_type, int_type,
                                   int_type, real, ctypes.c_void_p, int_type, ctypes.c_void_p,
                                   int_type, real, ctypes.c_void_p, int_type]
                return {np.dtype(np.float32): s, np.dtype(np.float64): d}
    return {}


_GEMM = _find_functions()
available = bool(_GEMM)


def _layout(a):
    """(transpose flag, leading dimension) to pass ``a`` to row-major BLAS, or None."""
    rows, cols = a.shape
    item = a.itemsize
    s0, s1 = a.strides
    if s0 % item or s1 % item:
        return None
    if (cols == 1 or s1 == item) and (rows == 1 or s0 >= cols * item):
        return _NO_TRANS, max(s0 // item if rows > 1 else cols, cols, 1)
    if (rows == 1 or s0 == item) and (cols == 1 or s1 >= rows * item):
        return _TRANS, max(s1 // item if cols > 1 else rows, rows, 1)
    return None


def gemm_into(z, alpha, x, y, beta):
    """``z[...] = beta * z + alpha * x @ y`` in place with one BLAS call; True if done.

    Requires float32/float64 matrices of one dtype, ``z`` C-contiguous and
    writable, and ``x``, ``y`` with unit stride along one axis.
    """
    fn = _GEMM.get(z.dtype)
    if (fn is None or x.dtype != z.dtype or y.dtype != z.dtype or not z.flags.c_contiguous
            or not z.flags.writeable or z.size == 0 or x.shape[1] == 0):
        return False
    # BLAS reads x and y while it writes z: an operand sharing z's memory (W - lr *
    # dot(W.T, W) in place) is copied first, as NumPy would for an overlapping output
    if np.may_share_memory(x, z):
        x = x.copy()
    if np.may_share_memory(y, z):
        y = y.copy()
    lx, ly = _layout(x), _layout(y)
    if lx is None or ly is None:
        return False
    m, n = z.shape
    fn(_ROW_MAJOR, lx[0], ly[0], m, n, x.shape[1], float(alpha), x.ctypes.data, lx[1],
       y.ctypes.data, ly[1], float(beta), z.ctypes.data, max(n, 1))
    return True
