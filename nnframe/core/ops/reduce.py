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
           "max_and_argmax", "mean", "var", "std"]


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
# The user functions take Theano 1.0's parameters in Theano's order (e.g. ``sum(input,
# axis, dtype, keepdims, acc_dtype)``), so positional calls written for Theano keep their
# meaning; a value of the wrong kind where a bool or a dtype is expected is a TypeError
# naming the parameter (``T.sum(x, 0, True)`` would otherwise take True as the dtype).
def _check_bool(fn, name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}: {name} must be a bool, got {value!r} (the parameters are "
                        f"Theano's, in Theano's order; pass {name}= by keyword)")
    return bool(value)


def _check_dtype(fn, name, value):
    """``value`` (None or anything naming a NumPy dtype) as a dtype string, or None."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_, int, np.integer, float)) or isinstance(value, tuple):
        raise TypeError(f"{fn}: {name} must be a dtype (e.g. 'float32') or None, got {value!r} "
                        f"(the parameters are Theano's, in Theano's order; pass keywords)")
    if value == "floatX":
        from nnframe.config import config
        return config.floatX
    try:
        return str(np.dtype(value))
    except TypeError:
        raise TypeError(f"{fn}: {name} must be a dtype (e.g. 'float32') or None, got "
                        f"{value!r}") from None


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


def _accumulate(op_class, fn, input, axis, dtype, keepdims, acc_dtype):
    """Sum or Prod with Theano's ``dtype`` (of the result) and ``acc_dtype`` (of the
    accumulation; ``dtype`` when None, else NumPy's accumulator of the input's dtype)."""
    keepdims = _check_bool(fn, "keepdims", keepdims)
    dtype = _check_dtype(fn, "dtype", dtype)
    acc_dtype = _check_dtype(fn, "acc_dtype", acc_dtype)
    x = as_tensor_variable(input)
    out_dtype = dtype or _sum_dtype(x.dtype)
    acc = acc_dtype or dtype
    if acc is not None and acc != x.dtype:
        x = E.cast(x, acc)
    out = _reduce(op_class, x, axis, keepdims)
    return out if out.dtype == out_dtype else E.cast(out, out_dtype)


def sum(input, axis=None, dtype=None, keepdims=False, acc_dtype=None):
    """Sum over ``axis`` (all axes by default), Theano's ``sum``.

    ``dtype``: the result's dtype (by default the input's, with small integers and bool
    widened to 64 bits as in NumPy); the sum is computed in ``acc_dtype`` when given,
    else in ``dtype``.
    """
    return _accumulate(Sum, "sum", input, axis, dtype, keepdims, acc_dtype)


def prod(input, axis=None, dtype=None, keepdims=False, acc_dtype=None, no_zeros_in_input=False):
    """Product over ``axis`` (all axes by default); ``dtype``, ``acc_dtype`` as in :func:`sum`.

    The gradient handles zeros whatever ``no_zeros_in_input`` says (Theano's hint to
    skip that work is accepted and not needed).
    """
    _check_bool("prod", "no_zeros_in_input", no_zeros_in_input)
    return _accumulate(Prod, "prod", input, axis, dtype, keepdims, acc_dtype)


def max(x, axis=None, keepdims=False):
    """Maximum over ``axis``; the gradient goes to every maximal entry."""
    return _reduce(Max, x, axis, _check_bool("max", "keepdims", keepdims))


def min(x, axis=None, keepdims=False):
    """Minimum over ``axis``; the gradient goes to every minimal entry."""
    return _reduce(Min, x, axis, _check_bool("min", "keepdims", keepdims))


def all(x, axis=None, keepdims=False):
    """True where every entry along ``axis`` is non-zero."""
    return _reduce(All, x, axis, _check_bool("all", "keepdims", keepdims))


def any(x, axis=None, keepdims=False):
    """True where some entry along ``axis`` is non-zero."""
    return _reduce(Any, x, axis, _check_bool("any", "keepdims", keepdims))


def _arg(op_class, x, axis, keepdims):
    keepdims = _check_bool(op_class.numpy_name, "keepdims", keepdims)
    x = as_tensor_variable(x)
    if axis is not None:
        if isinstance(axis, (list, tuple)) and len(axis) == 1:
            axis = axis[0]
        if not isinstance(axis, (int, np.integer)):
            # Theano reduces several axes as one (an index into their flattening);
            # nnframe does not (a known difference, tests/tensor/test_theano_signatures.py).
            raise TypeError(f"{op_class.numpy_name} takes one axis (an int) or None, "
                            f"got {axis!r}")
    if axis is not None:
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
    """Index of the minimum along ``axis``; see :func:`argmax`."""
    return _arg(Argmin, x, axis, keepdims)


def max_and_argmax(a, axis=None, keepdims=False):
    """``[max(a, axis, keepdims), argmax(a, axis, keepdims)]`` (Theano's ``max_and_argmax``)."""
    return [max(a, axis, keepdims), argmax(a, axis, keepdims)]


def _count(x, axes):
    """Number of entries reduced over ``axes``, as an int64 scalar."""
    n = None
    for a in axes:
        n = shape_i(x, a) if n is None else n * shape_i(x, a)
    return n if n is not None else 1


def mean(input, axis=None, dtype=None, op=False, keepdims=False, acc_dtype=None):
    """Arithmetic mean over ``axis`` (Theano's ``mean``).

    Without ``dtype``: floats keep their dtype, integers and bool give float64 (as in
    NumPy).  ``dtype``: the sum is computed in it (``acc_dtype`` overrides) and the
    result has it, or float64 when it is an integer dtype (``T.mean(T.eq(a, b),
    dtype=floatX)`` is an accuracy in floatX).  ``op`` (Theano's choice of a Mean Op)
    does not change the value and is accepted.
    """
    _check_bool("mean", "op", op)
    keepdims = _check_bool("mean", "keepdims", keepdims)
    dtype = _check_dtype("mean", "dtype", dtype)
    x = as_tensor_variable(input)
    axes = normalize_axes(axis, x.ndim)
    count = _count(x, axes)
    if dtype is None:
        total = sum(x, axes, keepdims=keepdims, acc_dtype=acc_dtype)
        out_dtype = upgrade_to_float(x.dtype) if not is_discrete(x.dtype) else "float64"
    else:
        total = sum(x, axes, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)
        out_dtype = dtype if not is_discrete(dtype) else "float64"
    return E.cast(E.true_div(E.cast(total, out_dtype), E.cast(count, out_dtype)), out_dtype)


def var(input, axis=None, ddof=0, keepdims=False, corrected=False):
    """Variance over ``axis`` (``ddof`` as in NumPy; Theano's ``var``).

    ``corrected=True`` subtracts the rounding error of the mean (Theano's
    'corrected two-pass' algorithm): ``sum(c)**2 / (N * (N - ddof))`` with ``c``
    the centred input.
    """
    if isinstance(ddof, (bool, np.bool_)) or not isinstance(ddof, (int, np.integer)):
        raise TypeError(f"var: ddof must be an int, got {ddof!r} (the parameters are "
                        "Theano's: input, axis, ddof, keepdims, corrected)")
    keepdims = _check_bool("var", "keepdims", keepdims)
    corrected = _check_bool("var", "corrected", corrected)
    x = as_tensor_variable(input)
    axes = normalize_axes(axis, x.ndim)
    centred = x - mean(x, axes, keepdims=True)
    sq = E.sqr(E.abs(centred)) if is_complex(x.dtype) else E.sqr(centred)
    dtype = upgrade_to_float(sq.dtype) if not is_discrete(sq.dtype) else "float64"
    n = E.cast(_count(x, axes), dtype)
    count = n - ddof
    out = E.true_div(E.cast(sum(sq, axes, keepdims=keepdims), dtype), count)
    if corrected:
        err = E.cast(sum(centred, axes, keepdims=keepdims), dtype)
        if is_complex(x.dtype):
            err = E.abs(err)
        out = out - E.true_div(E.sqr(err), n * count)
    return out


def std(input, axis=None, ddof=0, keepdims=False, corrected=False):
    """Standard deviation over ``axis``: ``sqrt(var(...))``, Theano's ``std``."""
    return E.sqrt(var(input, axis, ddof, keepdims, corrected))
