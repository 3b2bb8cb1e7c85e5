"""Cumulative sums and products along one axis: ``T.cumsum`` and ``T.cumprod``.

One Op class, :class:`CumOp` (``mode='add'`` or ``'mul'``, one axis), as in
PyTensor.  Its kernels are ``nnframe/backends/numpy/cumulative.py`` and
``nnframe/backends/opencl/cumulative.py``; its gradients are graphs of
existing Ops (CumOp itself, indexing, elementwise), so they run on every
backend and can be differentiated again.  docs/extending.md walks through
this module as the example of a new Op.

Values and dtypes are NumPy's: ``axis=None`` scans the flattened tensor;
booleans and integers narrower than the default int accumulate in it (int64,
uint64 for unsigned); floats keep their dtype and accumulate in order.

>>> import numpy as np, nnframe.tensor as T
>>> x = T.imatrix('x')
>>> T.cumsum(x, axis=1).type
TensorType(int64, matrix)
>>> T.cumprod(x).eval({x: np.array([[1, 2], [3, 4]], 'int32')})
array([ 1,  2,  6, 24])
"""
import numpy as np

from nnframe.core.graph import Apply
from nnframe.core.op import Op, as_tensor_variable
from nnframe.core.ops import elemwise as E
from nnframe.core.ops.shape import flatten, normalize_axis
from nnframe.core.types import TensorType, is_discrete

__all__ = ["CumOp", "cumsum", "cumprod"]

_NUMPY = {"add": np.cumsum, "mul": np.cumprod}


def accumulator_dtype(dtype, mode="add"):
    """The dtype NumPy's ``cumsum``/``cumprod`` give for ``dtype`` (int8 -> int64...)."""
    return str(_NUMPY[mode](np.zeros(1, dtype=dtype)).dtype)


def reverse(x, axis):
    """``x`` reversed along ``axis`` (a view: ``x[:, ::-1]`` for axis 1)."""
    return x[(slice(None),) * axis + (slice(None, None, -1),)]


class CumOp(Op):
    """Cumulative sum (``mode='add'``) or product (``'mul'``) along ``axis`` (an int >= 0).

    ``axis=None`` is handled by :func:`cumsum`/:func:`cumprod`, which flatten
    first, so the kernels only ever scan one axis of a tensor.
    """

    __props__ = ("axis", "mode")

    def __init__(self, axis, mode="add"):
        if mode not in _NUMPY:
            raise ValueError(f"CumOp mode must be 'add' or 'mul', got {mode!r}")
        # One spelling per axis, so equal Ops compare equal and their nodes merge.
        if int(axis) < 0:
            raise ValueError(f"CumOp takes a non-negative axis, got {axis} (use T.cumsum)")
        self.axis = int(axis)
        self.mode = mode

    @property
    def numpy_name(self):
        """What ``pp`` prints: ``cumsum(x, axis=1)``."""
        return "cumsum" if self.mode == "add" else "cumprod"

    def make_node(self, x):
        x = as_tensor_variable(x)
        if self.axis >= x.ndim:
            raise IndexError(f"{self} of a {x.ndim}-d tensor")
        return Apply(self, [x], [TensorType(accumulator_dtype(x.dtype, self.mode), x.type.shape)])

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        if is_discrete(x.dtype):
            return [None]
        if self.mode == "add":
            # y_i = sum_{j <= i} x_j, so dC/dx_j = sum_{i >= j} g_i: a cumsum from the end.
            return [E.cast(self._suffix_sum(g), x.dtype)]
        return [E.cast(self._cumprod_grad(x, g), x.dtype)]

    def _suffix_sum(self, v):
        """``sum_{i >= k} v_i`` at every k along the axis."""
        return reverse(CumOp(self.axis, "add")(reverse(v, self.axis)), self.axis)

    def _cumprod_grad(self, x, g):
        # dC/dx_k = sum_{i >= k} g_i prod_{j <= i, j != k} x_j.  PyTensor divides
        # suffix_sum(g * y) by x, which is 0/0 at a zero.  Per line, let z be the
        # first zero.  Before it (k < z) the terms with i >= z hold x_z = 0, so
        # dx_k = suffix_sum(g * y over i < z)_k / x_k, with x_k != 0.  At z,
        # dx_z = suffix_sum(g * y1)_z, y1 being the products with x_z taken as 1.
        # After z every term holds x_z (k > z): dx_k = 0.  Later zeros need nothing
        # special: y1 holds them.  Exact wherever y has not underflowed.
        axis = self.axis
        is_zero = E.eq(x, 0)
        zeros_so_far = CumOp(axis, "add")(is_zero)
        before = E.eq(zeros_so_far, 0)
        first = E.and_(is_zero, E.eq(zeros_so_far, 1))
        y1 = CumOp(axis, "mul")(E.switch(first, E.ones_like(x), x))
        p = g * y1   # = g * y before z, where y1 and y are the same products
        zero = E.zeros_like(p)
        before_z = self._suffix_sum(E.switch(before, p, zero)) / E.switch(before, x, 1)
        at_z = self._suffix_sum(E.switch(before, zero, p))
        return E.switch(before, before_z, E.switch(first, at_z, zero))


def _cumulative(mode, x, axis):
    x = as_tensor_variable(x)
    if axis is None:
        x, axis = flatten(x), 0
    elif not isinstance(axis, (int, np.integer)):
        raise TypeError(f"cum{'sum' if mode == 'add' else 'prod'} takes one axis (an int) "
                        f"or None, got {axis!r}")
    return CumOp(normalize_axis(axis, x.ndim), mode)(x)


def cumsum(x, axis=None):
    """Cumulative sum along ``axis`` (of the flattened tensor when None), as ``np.cumsum``.

    >>> import numpy as np, nnframe.tensor as T
    >>> v = T.dvector('v')
    >>> T.cumsum(v).eval({v: np.array([1.0, 2.0, 3.0])})
    array([1., 3., 6.])
    """
    return _cumulative("add", x, axis)


def cumprod(x, axis=None):
    """Cumulative product along ``axis`` (of the flattened tensor when None), as ``np.cumprod``.

    The gradient is exact at zeros of ``x`` too:

    >>> import numpy as np, nnframe.tensor as T
    >>> v = T.dvector('v')
    >>> T.grad(T.cumprod(v).sum(), v).eval({v: np.array([2.0, 0.0, 3.0])})
    array([1., 8., 0.])
    """
    return _cumulative("mul", x, axis)
