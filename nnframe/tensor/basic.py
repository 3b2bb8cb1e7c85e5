"""NumPy-like functions on symbolic tensors that are not a single Op.

Also Theano 1.0's spellings of functions whose parameter names or order differ from the
op families' (``dot(a, b)``, ``concatenate(tensor_list, axis)``, ``reshape(x, newshape,
ndim)``, ``grad(..., add_names, ...)``): T takes these, so that code written for Theano
can pass the same keywords; tests/tensor/test_theano_signatures.py checks the lists.
"""
import warnings

from nnframe.core import gradient as _gradient
from nnframe.core.op import as_tensor_variable
from nnframe.core.ops import blas as _blas
from nnframe.core.ops import elemwise as E
from nnframe.core.ops import shape as shape_ops

__all__ = ["round", "where", "sgn", "tensor_copy", "abs_", "shape_padleft", "shape_padright",
           "shape_padaxis", "join", "horizontal_stack", "vertical_stack", "xlogx", "xlogy0",
           "dot", "concatenate", "reshape", "flatten", "grad"]


def round(a, mode=None):
    """Round to the nearest integer.

    ``mode='half_to_even'`` (the default, NumPy's ``np.round``) or
    ``'half_away_from_zero'``.  The gradient is zero (as in Theano).
    """
    mode = mode or "half_to_even"
    if mode not in ("half_to_even", "half_away_from_zero"):
        raise ValueError(f"round mode must be 'half_to_even' or 'half_away_from_zero', got {mode!r}")
    return E.elemwise(f"round_{mode}", a)


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
def shape_padleft(t, n_ones=1):
    """``t`` with ``n_ones`` broadcastable axes in front (Theano's ``shape_padleft``).

    >>> import nnframe.tensor as T
    >>> T.shape_padleft(T.dvector('v'), 2).broadcastable
    (True, True, False)
    """
    x = as_tensor_variable(t)
    return shape_ops.dimshuffle(x, ["x"] * n_ones + list(range(x.ndim)))


def shape_padright(t, n_ones=1):
    """``t`` with ``n_ones`` broadcastable axes at the end (Theano's ``shape_padright``)."""
    x = as_tensor_variable(t)
    return shape_ops.dimshuffle(x, list(range(x.ndim)) + ["x"] * n_ones)


def shape_padaxis(t, axis):
    """``t`` with a broadcastable axis inserted at ``axis`` (``np.expand_dims``)."""
    return shape_ops.expand_dims(t, axis)


def join(axis, *tensors):
    """Theano's ``join(axis, *tensors)``: ``concatenate(tensors, axis)``."""
    return shape_ops.concatenate(list(tensors), axis=axis)


def horizontal_stack(*tensors):
    """Matrices side by side (``np.hstack`` for 2-d inputs)."""
    return shape_ops.concatenate(list(tensors), axis=1)


def vertical_stack(*tensors):
    """Matrices one above the other (``np.vstack`` for 2-d inputs)."""
    return shape_ops.concatenate(list(tensors), axis=0)


# -- Theano's parameter names and order ------------------------------------------------
def dot(a, b):
    """Dot product of ``a`` and ``b`` (Theano's ``dot(a, b)``); see ``nnframe.core.ops.blas``."""
    return _blas.dot(a, b)


def concatenate(tensor_list, axis=0):
    """Join the tensors of ``tensor_list`` along an existing ``axis`` (Theano's names)."""
    return shape_ops.concatenate(tensor_list, axis=axis)


def reshape(x, newshape, ndim=None):
    """``x`` reshaped to ``newshape`` (ints, scalars or an int vector; -1 allowed once)."""
    return shape_ops.reshape(x, newshape, ndim=ndim)


def flatten(x, ndim=None, outdim=None):
    """``x`` with its trailing axes collapsed so that it has ``ndim`` axes (1 by default).

    ``outdim`` is Theano's deprecated name of ``ndim``.
    """
    if outdim is not None:
        if ndim is not None:
            raise ValueError("flatten: give ndim only (outdim is its deprecated name)")
        warnings.warn("flatten: outdim is deprecated, use ndim", DeprecationWarning,
                      stacklevel=2)
        ndim = outdim
    return shape_ops.flatten(x, 1 if ndim is None else ndim)


def grad(cost, wrt, consider_constant=None, disconnected_inputs="raise", add_names=True,
         known_grads=None, return_disconnected="zero", null_gradients="raise"):
    """Theano's ``grad``, with its parameters in its order; see :func:`nnframe.core.gradient.grad`.

    ``add_names`` (Theano names the gradients) changes nothing; ``null_gradients`` must
    be 'raise' (an undefined gradient is an error).
    """
    if null_gradients != "raise":
        raise NotImplementedError(f"grad: null_gradients={null_gradients!r} is not supported; "
                                  "an undefined gradient raises")
    return _gradient.grad(cost, wrt, consider_constant=consider_constant,
                          disconnected_inputs=disconnected_inputs, known_grads=known_grads,
                          return_disconnected=return_disconnected)


# -- x log x ------------------------------------------------------------------------------
def xlogy0(x, y):
    """``x * log(y)``, and 0 where ``x == 0`` (whatever ``y``): Theano's ``xlogy0``.

    The gradient is Theano's, ``(log(y), x / y)``, where ``x != 0`` or ``0 < y < inf``; where
    ``x == 0`` and ``y`` is 0, negative or infinite it is ``(0, 0)`` (Theano's is
    ``(log(y), nan)`` there).  A composed expression, so every backend runs it.

    >>> import nnframe.tensor as T
    >>> x, y = T.dvectors('x', 'y')
    >>> T.xlogy0(x, y).eval({x: [0.0, 2.0], y: [0.0, 1.0]})
    array([0., 0.])
    """
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    # Where x == 0 and log(y) is not finite, log(y) is replaced by log(1): the value is 0
    # (0 * -inf would be nan) and no nan reaches the gradient (the "double where").
    bad = E.and_(E.eq(x, 0), E.invert(E.and_(E.gt(y, 0), E.lt(y, float("inf")))))
    safe_y = E.switch(bad, E.ones_like(y), y)
    return x * E.log(safe_y)


def xlogx(x):
    """``x * log(x)``, and 0 at ``x == 0``: Theano's ``xlogx`` (``theano.tensor.xlogx.xlogx``).

    The gradient is ``1 + log(x)`` for ``x > 0``; at ``x == 0`` it is 0 (Theano's is
    ``-inf`` there).  ``T.xlogx.xlogx`` and ``T.xlogx.xlogy0`` also work, as the module
    spelling of Theano.

    >>> import nnframe.tensor as T
    >>> x = T.dvector('x')
    >>> T.xlogx(x).eval({x: [0.0, 1.0]})
    array([0., 0.])
    """
    return xlogy0(x, x)


# Theano's theano.tensor.xlogx is a module: T.xlogx.xlogx(x), T.xlogx.xlogy0(x, y).
xlogx.xlogx = xlogx
xlogx.xlogy0 = xlogy0
