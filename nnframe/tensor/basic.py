"""NumPy-like functions on symbolic tensors that are not a single Op."""
from nnframe.core.op import as_tensor_variable
from nnframe.core.ops import elemwise as E

__all__ = ["round", "where", "sgn", "tensor_copy", "abs_"]


def round(x, mode=None):
    """Round to the nearest integer.

    ``mode='half_to_even'`` (the default, NumPy's ``np.round``) or
    ``'half_away_from_zero'``.  The gradient is zero (as in Theano).
    """
    mode = mode or "half_to_even"
    if mode not in ("half_to_even", "half_away_from_zero"):
        raise ValueError(f"round mode must be 'half_to_even' or 'half_away_from_zero', got {mode!r}")
    return E.elemwise(f"round_{mode}", x)


def where(condition, x, y):
    """``np.where(condition, x, y)``; the same as ``T.switch``."""
    return E.switch(condition, x, y)


def sgn(x):
    """Sign of ``x`` (-1, 0 or 1).  Its gradient is zero, as in Theano; see T.ste_sign."""
    return E.sgn(x)


def tensor_copy(x):
    """A copy of ``x`` (a new buffer)."""
    return E.identity(as_tensor_variable(x))


abs_ = E.abs
