"""NumPy-like functions on symbolic tensors that are not a single Op."""
from nnframe.core.op import as_tensor_variable
from nnframe.core.ops import elemwise as E
from nnframe.core.ops import shape as shape_ops

__all__ = ["round", "where", "sgn", "tensor_copy", "abs_", "shape_padleft", "shape_padright",
           "shape_padaxis", "join", "horizontal_stack", "vertical_stack"]


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


# -- Theano's spellings of shape helpers ------------------------------------------------
def shape_padleft(x, n_ones=1):
    """``x`` with ``n_ones`` broadcastable axes in front (Theano's ``shape_padleft``).

    >>> import nnframe.tensor as T
    >>> T.shape_padleft(T.dvector('v'), 2).broadcastable
    (True, True, False)
    """
    x = as_tensor_variable(x)
    return shape_ops.dimshuffle(x, ["x"] * n_ones + list(range(x.ndim)))


def shape_padright(x, n_ones=1):
    """``x`` with ``n_ones`` broadcastable axes at the end (Theano's ``shape_padright``)."""
    x = as_tensor_variable(x)
    return shape_ops.dimshuffle(x, list(range(x.ndim)) + ["x"] * n_ones)


def shape_padaxis(x, axis):
    """``x`` with a broadcastable axis inserted at ``axis`` (``np.expand_dims``)."""
    return shape_ops.expand_dims(x, axis)


def join(axis, *tensors):
    """Theano's ``join(axis, *tensors)``: ``concatenate(tensors, axis)``."""
    return shape_ops.concatenate(list(tensors), axis=axis)


def horizontal_stack(*tensors):
    """Matrices side by side (``np.hstack`` for 2-d inputs)."""
    return shape_ops.concatenate(list(tensors), axis=1)


def vertical_stack(*tensors):
    """Matrices one above the other (``np.vstack`` for 2-d inputs)."""
    return shape_ops.concatenate(list(tensors), axis=0)
