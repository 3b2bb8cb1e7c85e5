"""Reductions along axes: sum, prod, max, min, all, any, argmax, argmin; mean/var/std.

``axis`` is None (all axes), an int or a sequence of ints; ``keepdims=True``
keeps the reduced axes with length 1 (and makes them broadcastable).

>>> import nnframe.tensor as T
>>> T.fmatrix().sum(axis=1, keepdims=True).type
TensorType(float32, shape=(?, 1))
"""
import builtins

import numpy as np

from nnframe.core.graph import Apply
from nnframe.core.op import Op, as_tensor_variable
from nnframe.core.ops import elemwise as E
from nnframe.core.ops.shape import dimshuffle, normalize_axis, shape_i
from nnframe.core.types import TensorType, is_complex, is_discrete, upgrade_to_float

__all__ = ["Reduce", "Sum", "Prod", "Max", "Min", "All", "Any", "ArgReduce", "Argmax",
           "Argmin", "sum", "prod", "max", "min", "all", "any", "argmax", "argmin",
           "mean", "var", "std"]


def normalize_axes(axis, ndim):
    """``axis`` (None, int or sequence) as a sorted tuple of distinct non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = [axis]
    axes = sorted({normalize_axis(a, ndim) for a in axis})
    if len(axes) != len(list(axis)):
        raise ValueError(f"repeated axis in {tuple(axis)}")
    return tuple(axes)


def _sum_dtype(dtype):
    """NumPy's accumulator dtype for sum/prod: small ints widen to 64 bits."""
    return str(np.sum(np.zeros(1, dtype=dtype)).dtype)


class Reduce(Op):
    """Base of the reductions: ``axis`` is a sorted tuple of axes to remove."""

    __props__ = ("axis",)
    numpy_name = None
    #: reducing an empty value is an error (no identity: max, min); see :meth:`empty_error`
    empty_is_error = False

    def __init__(self, axis):
        self.axis = tuple(int(a) for a in axis)

    def __str__(self):
        return f"{type(self).__name__}{{axis={self.axis}}}"

    def output_dtype(self, dtype):
        return dtype

    def make_node(self, x):
        x = as_tensor_variable(x)
        if builtins.any(a >= x.ndim for a in self.axis):
            raise IndexError(f"{self} of a {x.ndim}-d tensor")
        shape = tuple(n for a, n in enumerate(x.type.shape) if a not in self.axis)
        return Apply(self, [x], [TensorType(self.output_dtype(x.dtype), shape)])

    def infer_shape(self, node, input_shapes):
        return [tuple(n for a, n in enumerate(input_shapes[0]) if a not in self.axis)]

    def empty_error(self, shape):
        """The ValueError backends raise for an empty value of ``shape`` when ``empty_is_error``.

        Backends test ``empty_is_error`` and the size themselves, in their kernels.
        """
        return ValueError(f"{self.numpy_name} of an empty array (shape {shape}) has no value")

    def _expand(self, y, ndim):
        """``y`` (reduced) with the reduced axes put back as broadcastable axes."""
        pattern, k = [], 0
        for a in range(ndim):
            if a in self.axis:
                pattern.append("x")
            else:
                pattern.append(k)
                k += 1
        return dimshuffle(y, pattern)


class _Accumulating(Reduce):
    """Sum and product: small integers accumulate in 64 bits, as in NumPy."""

    def output_dtype(self, dtype):
        return _sum_dtype(dtype)


class Sum(_Accumulating):
    numpy_name = "sum"

    def L_op(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        if is_discrete(x.dtype):
            return [None]
        return [E.cast(E.second(x, self._expand(g, x.ndim)), x.dtype)]


class Prod(_Accumulating):
    numpy_name = "prod"

    def L_op(self, inputs, outputs, output_grads):
        # d prod / d x_i is the product of the other entries.  Dividing the
        # product by x_i fails at zeros, so count zeros per reduced slice:
        # no zero -> prod / x_i; one zero -> product of the non-zeros at that
        # zero and 0 elsewhere; more zeros -> 0 everywhere.
        (x,), (g,) = inputs, output_grads
        if is_discrete(x.dtype):
            return [None]
        axis = self.axis
        is_zero = E.eq(x, 0)
        n_zeros = sum(is_zero, axis=axis, keepdims=True)
        nonzero = E.switch(is_zero, E.ones_like(x), x)
        prod_nonzero = prod(nonzero, axis=axis, keepdims=True)
        no_zero_grad = prod_nonzero / nonzero
        one_zero_grad = E.switch(is_zero, prod_nonzero, E.zeros_like(x))
        d = E.switch(E.eq(n_zeros, 0), no_zero_grad,
                     E.switch(E.eq(n_zeros, 1), one_zero_grad, E.zeros_like(x)))
        return [E.cast(d * self._expand(g, x.ndim), x.dtype)]


class _Extremum(Reduce):
    empty_is_error = True

    def make_node(self, x):
        x = as_tensor_variable(x)
        if is_complex(x.dtype):
            raise TypeError(f"{type(self).__name__.lower()} of complex values is not defined")
        return super().make_node(x)

    def L_op(self, inputs, outputs, output_grads):
        # The gradient goes to every entry equal to the extremum (ties share it).
        (x,), (z,), (g,) = inputs, outputs, output_grads
        if is_discrete(x.dtype):
            return [None]
        hit = E.eq(x, self._expand(z, x.ndim))
        return [E.cast(E.cast(hit, g.dtype) * self._expand(g, x.ndim), x.dtype)]


class Max(_Extremum):
    numpy_name = "max"


class Min(_Extremum):
    numpy_name = "min"


class All(Reduce):
    numpy_name = "all"

    def output_dtype(self, dtype):
        return "bool"


class Any(Reduce):
    numpy_name = "any"

    def output_dtype(self, dtype):
        return "bool"


class ArgReduce(Op):
    """Index of the max/min along one axis (or of the flattened tensor: axis=None)."""

    __props__ = ("axis",)
    numpy_name = None

    def __init__(self, axis):
        self.axis = None if axis is None else int(axis)

    def __str__(self):
        return f"{type(self).__name__}{{axis={self.axis}}}"

    def make_node(self, x):
        x = as_tensor_variable(x)
        if self.axis is not None and not 0 <= self.axis < x.ndim:
            raise IndexError(f"{self} of a {x.ndim}-d tensor")
        if is_complex(x.dtype):
            raise TypeError(f"{self} of complex values is not defined")
        shape = () if self.axis is None else tuple(
            n for a, n in enumerate(x.type.shape) if a != self.axis)
        return Apply(self, [x], [TensorType("int64", shape)])

    def infer_shape(self, node, input_shapes):
        if self.axis is None:
            return [()]
        return [tuple(n for a, n in enumerate(input_shapes[0]) if a != self.axis)]

    def L_op(self, inputs, outputs, output_grads):
        return [None]


class Argmax(ArgReduce):
    numpy_name = "argmax"


class Argmin(ArgReduce):
    numpy_name = "argmin"


# -- builders -------------------------------------------------------------------
def _reduce(op_class, x, axis, keepdims):
    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim)
    if not axes and op_class not in (Sum, Prod):
        out = x
    else:
        out = op_class(axes)(x)
    if keepdims:
        out = op_class(axes)._expand(out, x.ndim)
    return out


def sum(x, axis=None, keepdims=False, dtype=None):
    """Sum over ``axis`` (all axes by default); ints widen to int64 as in NumPy."""
    x = as_tensor_variable(x)
    if dtype is not None:
        x = E.cast(x, dtype)
    return _reduce(Sum, x, axis, keepdims)


def prod(x, axis=None, keepdims=False):
    """Product over ``axis`` (all axes by default); the gradient handles zeros."""
    return _reduce(Prod, x, axis, keepdims)


def max(x, axis=None, keepdims=False):
    """Maximum over ``axis``; the gradient goes to every maximal entry."""
    return _reduce(Max, x, axis, keepdims)


def min(x, axis=None, keepdims=False):
    """Minimum over ``axis``; the gradient goes to every minimal entry."""
    return _reduce(Min, x, axis, keepdims)


def all(x, axis=None, keepdims=False):
    """True where every entry along ``axis`` is non-zero."""
    return _reduce(All, x, axis, keepdims)


def any(x, axis=None, keepdims=False):
    """True where some entry along ``axis`` is non-zero."""
    return _reduce(Any, x, axis, keepdims)


def _arg(op_class, x, axis, keepdims):
    x = as_tensor_variable(x)
    if axis is not None:
        if not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{op_class.numpy_name} takes one axis (an int) or None, got {axis!r}")
        axis = normalize_axis(axis, x.ndim)
    out = op_class(axis)(x)
    if keepdims:
        pattern = ["x"] * x.ndim if axis is None else [
            "x" if a == axis else (a if a < axis else a - 1) for a in range(x.ndim)]
        out = dimshuffle(out, pattern)
    return out


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum along ``axis`` (of the flattened tensor when None)."""
    return _arg(Argmax, x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    """Index of the minimum along ``axis`` (of the flattened tensor when None)."""
    return _arg(Argmin, x, axis, keepdims)


def _count(x, axes):
    """Number of entries reduced over ``axes``, as an int64 scalar."""
    n = None
    for a in axes:
        n = shape_i(x, a) if n is None else n * shape_i(x, a)
    return n if n is not None else 1


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over ``axis``; integers give float64, as in NumPy."""
    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim)
    total = sum(x, axes, keepdims)
    count = _count(x, axes)
    dtype = upgrade_to_float(x.dtype) if not is_discrete(x.dtype) else "float64"
    return E.cast(E.true_div(E.cast(total, dtype), E.cast(count, dtype)), dtype)


def var(x, axis=None, keepdims=False, ddof=0):
    """Variance over ``axis`` (``ddof`` as in NumPy)."""
    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim)
    centred = x - mean(x, axes, keepdims=True)
    sq = E.sqr(E.abs(centred)) if is_complex(x.dtype) else E.sqr(centred)
    dtype = upgrade_to_float(sq.dtype) if not is_discrete(sq.dtype) else "float64"
    count = E.cast(_count(x, axes), dtype) - ddof
    return E.true_div(E.cast(sum(sq, axes, keepdims), dtype), count)


def std(x, axis=None, keepdims=False, ddof=0):
    """Standard deviation over ``axis`` (``ddof`` as in NumPy)."""
    return E.sqrt(var(x, axis, keepdims, ddof))
