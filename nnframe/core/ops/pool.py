"""2-d pooling over the last two axes of a tensor (PyTensor's ``pool_2d``).

``pool_2d(x, ws)`` reduces each ``ws`` window of the last two axes of ``x``
(any number of leading axes) with max, sum or average.  The Ops:

- :class:`Pool`: the pooling itself;
- :class:`MaxPoolGrad`: gradient of max pooling (to the first maximum of
  each window);
- :class:`MaxPoolGradGrad`: gradient of :class:`MaxPoolGrad` with respect to
  its incoming gradient (it gathers at each window's first maximum);
- :class:`AveragePoolGrad`: gradient of sum and average pooling.

Window geometry (as in Theano): windows start every ``stride`` along each
axis of the input padded by ``pad`` on both sides.  With
``ignore_border=True`` only complete windows count; with ``False`` the
windows that start inside the input are kept even when they run past its
end.  The maximum, the sum and 'average_exc_pad' see only real input
entries; 'average_inc_pad' divides by the window's size within the padded
input.

>>> import nnframe.tensor as T
>>> x = T.tensor('float32', shape=(None, 16, 28, 28))
>>> T.nnet.max_pool_2d(x, (2, 2)).type
TensorType(float32, shape=(?, 16, 14, 14))
"""
import builtins
import warnings

from nnframe.core.graph import Apply, Constant, Variable
from nnframe.core.op import Op, as_tensor_variable
from nnframe.core.ops import elemwise as E
from nnframe.core.ops.conv import int_pair
from nnframe.core.ops.shape import shape_i
from nnframe.core.types import TensorType, is_complex, is_discrete, is_float

__all__ = ["Pool", "MaxPoolGrad", "MaxPoolGradGrad", "AveragePoolGrad", "pool_2d",
           "max_pool_2d", "avg_pool_2d"]

MODES = ("max", "sum", "average_inc_pad", "average_exc_pad")


def _maximum(a, b):
    return E.maximum(a, b) if isinstance(a, Variable) else builtins.max(a, b)


def _minimum(a, b):
    return E.minimum(a, b) if isinstance(a, Variable) else builtins.min(a, b)


def pool_output_length(length, ws, stride, pad, ignore_border):
    """Number of windows along one axis of ``length`` (an int or a symbolic scalar)."""
    length = length + 2 * pad
    if ignore_border:
        return _maximum((length - ws) // stride + 1, 0)
    if stride >= ws:
        return (length - 1) // stride + 1
    # Overlapping windows: those starting inside the input (none for an empty one).
    return _minimum(length, _maximum((length - 1 - ws + stride) // stride, 0) + 1)


class _PoolBase(Op):
    """Window geometry shared by the pooling Ops.

    Parameters
    ----------
    ws : (int, int), the window size
    stride : (int, int), None for ``ws``
    pad : (int, int), zero padding on both sides (each < ws; needs ignore_border)
    ignore_border : bool
    """

    __props__ = ("ws", "stride", "pad", "ignore_border")

    def __init__(self, ws, stride=None, pad=(0, 0), ignore_border=True):
        self.ws = int_pair(ws, "pool_2d: ws", 1)
        self.stride = self.ws if stride is None else int_pair(stride, "pool_2d: stride", 1)
        self.pad = int_pair(pad, "pool_2d: pad", 0)
        self.ignore_border = bool(ignore_border)
        if self.pad != (0, 0) and not self.ignore_border:
            raise ValueError(f"pool_2d: padding {self.pad} needs ignore_border=True")
        if any(p >= w for p, w in zip(self.pad, self.ws)):
            raise ValueError(f"pool_2d: padding {self.pad} must be smaller than the window "
                             f"size {self.ws} (else whole windows would be padding)")

    def geometry(self):
        """``(ws, stride, pad, ignore_border)``, the arguments of the window helpers."""
        return self.ws, self.stride, self.pad, self.ignore_border

    def output_spatial(self, rows, cols):
        return tuple(pool_output_length(n, self.ws[a], self.stride[a], self.pad[a],
                                        self.ignore_border) for a, n in enumerate((rows, cols)))

    def static_output_spatial(self, shape):
        """Static pooled (rows, cols); raises when a complete window cannot fit."""
        out = []
        for axis, n in enumerate(shape[-2:]):
            if n is None:
                out.append(None)
                continue
            if self.ignore_border and n + 2 * self.pad[axis] < self.ws[axis]:
                raise ValueError(
                    f"pool_2d: the window size {self.ws} does not fit in the input of static "
                    f"shape {shape} (padded by {self.pad}), so ignore_border=True leaves no "
                    "complete window; use a smaller ws, or ignore_border=False to pool the "
                    "partial window")
            out.append(pool_output_length(n, self.ws[axis], self.stride[axis], self.pad[axis],
                                          self.ignore_border))
        return tuple(out)

    def check_input(self, x, what="input"):
        x = as_tensor_variable(x)
        if x.ndim < 2:
            raise TypeError(f"pool_2d: the {what} must have at least 2 dimensions (pooling "
                            f"is over the last two), got {x.type}")
        if is_complex(x.dtype) or x.dtype == "bool":
            raise TypeError(f"pool_2d: the {what} must have a real numeric dtype, got {x.type}")
        return x

    def check_pooled(self, x, pooled, what):
        """``pooled`` must have the shape of pooling ``x``, where static shapes say."""
        pooled = self.check_input(pooled, what)
        if pooled.ndim != x.ndim:
            raise TypeError(f"{type(self).__name__}: {what} {pooled.type} and input {x.type} "
                            "differ in number of dimensions")
        want = x.type.shape[:-2] + self.static_output_spatial(x.type.shape)
        for axis, (a, b) in enumerate(zip(want, pooled.type.shape)):
            if a is not None and b is not None and a != b:
                raise ValueError(f"{type(self).__name__}: {what} has static shape "
                                 f"{pooled.type.shape}, but pooling the input {x.type} gives "
                                 f"length {a} on axis {axis}")
        return pooled

    def check_pooled_shape(self, shape, lead, pooled, what="output gradient"):
        """Raise ValueError unless the run-time ``shape`` of an input the size of the pooled
        result (the ``what``) is ``lead + pooled`` (leading axes, pooled rows and cols)."""
        if shape != tuple(lead) + tuple(pooled):
            raise ValueError(f"{self}: the {what} has shape {shape} but pooling gives "
                             f"{tuple(lead) + tuple(pooled)}")


class Pool(_PoolBase):
    """Max, sum or average of the windows of the last two axes; see :func:`pool_2d`."""

    __props__ = _PoolBase.__props__ + ("mode",)

    def __init__(self, ws, stride=None, pad=(0, 0), ignore_border=True, mode="max"):
        super().__init__(ws, stride, pad, ignore_border)
        if mode not in MODES:
            raise ValueError(f"pool_2d: mode {mode!r} is unknown; use one of "
                             f"{', '.join(map(repr, MODES))}")
        self.mode = mode

    def make_node(self, x):
        x = self.check_input(x)
        if self.mode.startswith("average") and not is_float(x.dtype):
            raise TypeError(f"pool_2d: mode={self.mode!r} needs a float input, got {x.type}; "
                            "cast it first (T.cast(x, 'float32'))")
        shape = x.type.shape[:-2] + self.static_output_spatial(x.type.shape)
        return Apply(self, [x], [TensorType(x.dtype, shape)])

    def infer_shape(self, node, input_shapes):
        (s,) = input_shapes
        return [tuple(s[:-2]) + self.output_spatial(*s[-2:])]

    def L_op(self, inputs, outputs, output_grads):
        (x,), (gz,) = inputs, output_grads
        if is_discrete(x.dtype):
            return [None]
        if self.mode == "max":
            return [MaxPoolGrad(*self.geometry())(x, outputs[0], gz)]
        rows, cols = shape_i(x, x.ndim - 2), shape_i(x, x.ndim - 1)
        return [AveragePoolGrad(*self.geometry(), mode=self.mode)(gz, rows, cols)]


class MaxPoolGrad(_PoolBase):
    """Gradient of max pooling: ``gz`` of each window goes to its first maximum in ``x``.

    Inputs: ``x`` (the pooled input), ``maxout`` (the max-pooled ``x``, which
    locates the maxima) and ``gz`` (the gradient of the pooled output).
    Output: shaped like ``x``.  Windows are scanned in row-major order, so
    on ties the first maximum gets the whole gradient.
    """

    def make_node(self, x, maxout, gz):
        x = self.check_input(x)
        if not is_float(x.dtype):
            raise TypeError(f"{type(self).__name__} needs a float input, got {x.type}")
        maxout = self.check_pooled(x, maxout, "max-pooled input")
        gz = self.check_pooled(x, gz, "output gradient")
        return Apply(self, [x, maxout, gz], [x.type])

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        # Linear in gz (the adjoint gathers at the maxima); piecewise constant in x,
        # whose zero gradient makes the one through maxout (a function of x) redundant.
        (x, maxout, _), (g,) = inputs, output_grads
        return [E.zeros_like(x), None, MaxPoolGradGrad(*self.geometry())(x, maxout, g)]


class MaxPoolGradGrad(_PoolBase):
    """``ggx`` (shaped like ``x``) read at the first maximum of each window of ``x``.

    Inputs: ``x``, ``maxout`` (the max-pooled ``x``) and ``ggx``.  The adjoint
    of :class:`MaxPoolGrad` in its gradient argument; the output is shaped
    like ``maxout``.
    """

    def make_node(self, x, maxout, ggx):
        x = self.check_input(x)
        if not is_float(x.dtype):
            raise TypeError(f"{type(self).__name__} needs a float input, got {x.type}")
        maxout = self.check_pooled(x, maxout, "max-pooled input")
        ggx = self.check_input(ggx, "gradient")
        if ggx.ndim != x.ndim:
            raise TypeError(f"{type(self).__name__}: the gradient {ggx.type} and the input "
                            f"{x.type} differ in number of dimensions")
        return Apply(self, [x, maxout, ggx], [TensorType(ggx.dtype, maxout.type.shape)])

    def infer_shape(self, node, input_shapes):
        return [input_shapes[1]]

    def L_op(self, inputs, outputs, output_grads):
        (x, maxout, _), (g,) = inputs, output_grads
        return [E.zeros_like(x), None, MaxPoolGrad(*self.geometry())(x, maxout, g)]

    def check_grad_shape(self, ggx_shape, x_shape):
        """Raise ValueError unless the run-time shapes of ``ggx`` and ``x`` are equal."""
        if ggx_shape != x_shape:
            raise ValueError(f"{self}: the gradient has shape {ggx_shape} but the input "
                             f"has shape {x_shape}; they must be equal")


class AveragePoolGrad(_PoolBase):
    """Gradient of sum / average pooling; it depends on the input's shape only.

    Inputs: ``gz`` (the gradient of the pooled output) and the pooled input's
    last two lengths ``rows`` and ``cols`` (integer scalars).  Each window's
    gradient, divided by its count for the average modes, is spread over it.
    """

    __props__ = _PoolBase.__props__ + ("mode",)

    def __init__(self, ws, stride=None, pad=(0, 0), ignore_border=True, mode="average_exc_pad"):
        super().__init__(ws, stride, pad, ignore_border)
        if mode not in MODES[1:]:
            raise ValueError(f"AveragePoolGrad: mode must be one of "
                             f"{', '.join(map(repr, MODES[1:]))}, got {mode!r}")
        self.mode = mode

    def make_node(self, gz, rows, cols):
        gz = self.check_input(gz, "output gradient")
        sizes = []
        for what, n in (("rows", rows), ("cols", cols)):
            n = as_tensor_variable(n)
            if n.ndim != 0 or not is_discrete(n.dtype) or n.dtype == "bool":
                raise TypeError(f"AveragePoolGrad: {what} must be an integer scalar, got {n.type}")
            sizes.append(E.cast(n, "int64"))
        static = [int(n.data) if isinstance(n, Constant) else None for n in sizes]
        x_shape = gz.type.shape[:-2] + tuple(static)
        want = self.static_output_spatial(x_shape)
        for axis, (a, b) in enumerate(zip(want, gz.type.shape[-2:])):
            if a is not None and b is not None and a != b:
                raise ValueError(f"AveragePoolGrad: the output gradient {gz.type} has length "
                                 f"{b} on pooled axis {axis}, pooling gives {a}")
        return Apply(self, [gz] + sizes, [TensorType(gz.dtype, x_shape)])

    def infer_shape(self, node, input_shapes):
        return [tuple(input_shapes[0][:-2]) + tuple(node.inputs[1:])]

    def L_op(self, inputs, outputs, output_grads):
        # Linear in gz; the adjoint of spreading is pooling with the same mode.
        (g,) = output_grads
        return [Pool(*self.geometry(), mode=self.mode)(g), None, None]


# -- builders -------------------------------------------------------------------------------
def pool_2d(input, ws=None, ignore_border=True, stride=None, pad=(0, 0), mode="max", ds=None,
            st=None, padding=None):
    """Pool the windows of the last two axes of ``input`` (Theano 1.0's ``pool_2d``).

    The parameters are Theano 1.0's, in its order; ``ds``, ``st`` and ``padding`` are
    its deprecated names of ``ws``, ``stride`` and ``pad`` (they warn).  Unlike Theano
    1.0, whose default (None) meant False with a warning, ``ignore_border`` defaults to
    True (Theano's announced default, PyTensor's); ``ignore_border=None`` is Theano's
    None: False, with a DeprecationWarning.

    Parameters
    ----------
    input : tensor of >= 2 dimensions (e.g. NCHW images)
    ws : int or (int, int)
        Window size along the last two axes.
    ignore_border : bool
        True (the default): only complete windows; False: also the partial
        windows that start inside the input but run past its end.
    stride : int, (int, int) or None
        Step between windows; None (the default) is ``ws`` (no overlap).
    pad : int or (int, int)
        Zero padding on both sides of each axis (must be smaller than ``ws``;
        needs ``ignore_border=True``).  Padding never wins a max and is not
        counted by 'average_exc_pad'.
    mode : 'max', 'sum', 'average_inc_pad' or 'average_exc_pad'
        The reduction; 'average_inc_pad' counts padding in the divisor.
        'max_deterministic' (Theano's) is 'max'.
    ds, st, padding : Theano's deprecated names of ``ws``, ``stride``, ``pad``

    Returns
    -------
    tensor of the input's leading axes and the pooled last two axes:
    ``(rows + 2 * pad - ws) // stride + 1`` each with ``ignore_border``.

    Examples
    --------
    >>> import nnframe.tensor as T
    >>> x = T.tensor('float32', shape=(None, 3, 7, 7))
    >>> pool_2d(x, (2, 2), ignore_border=False, mode='average_exc_pad').type
    TensorType(float32, shape=(?, 3, 4, 4))
    """
    ws = _deprecated_alias(ws, ds, "ws", "ds")
    stride = _deprecated_alias(stride, st, "stride", "st")
    if padding is not None:
        if pad not in ((0, 0), 0, None):
            raise ValueError("pool_2d: give pad or padding (its deprecated name), not both")
        pad = _deprecated_alias(None, padding, "pad", "padding")
    if ws is None:
        raise ValueError("pool_2d: the window size ws is required")
    if ignore_border is None:
        warnings.warn("pool_2d: ignore_border=None means False, as in Theano 1.0; pass "
                      "ignore_border explicitly", DeprecationWarning, stacklevel=2)
        ignore_border = False
    if mode == "max_deterministic":     # Theano's name; max pooling here is deterministic
        mode = "max"
    return Pool(ws, stride, pad, ignore_border, mode)(input)


def _deprecated_alias(value, old, name, old_name):
    if old is None:
        return value
    if value is not None:
        raise ValueError(f"pool_2d: give {name} or {old_name} (its deprecated name), not both")
    warnings.warn(f"pool_2d: {old_name} is deprecated, use {name}", DeprecationWarning,
                  stacklevel=3)
    return old


def max_pool_2d(input, ws, ignore_border=True, stride=None, pad=(0, 0)):
    """Maximum of each window of the last two axes; see :func:`pool_2d`.

    >>> import nnframe.tensor as T
    >>> max_pool_2d(T.tensor('float32', shape=(None, 8, 9, 9)), 3, stride=2).type
    TensorType(float32, shape=(?, 8, 4, 4))
    """
    return pool_2d(input, ws, ignore_border, stride, pad, "max")


def avg_pool_2d(input, ws, ignore_border=True, stride=None, pad=(0, 0), include_pad=False):
    """Mean of each window of the last two axes; see :func:`pool_2d`.

    ``include_pad=True`` divides by the window size including padding
    ('average_inc_pad'); False (the default) by the number of real entries.

    >>> import nnframe.tensor as T
    >>> avg_pool_2d(T.dmatrix('x'), (2, 2), pad=(1, 1)).type
    TensorType(float64, matrix)
    """
    mode = "average_inc_pad" if include_pad else "average_exc_pad"
    return pool_2d(input, ws, ignore_border, stride, pad, mode)
