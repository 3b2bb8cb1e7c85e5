"""2-d convolution of NCHW image batches, with Theano's ``conv2d`` semantics.

``conv2d(input, filters)`` convolves a batch ``(batch, in_channels, rows,
cols)`` with filters ``(out_channels, in_channels, krows, kcols)``.  Three Ops
share one set of properties (padding, stride, flip, dilation):

- :class:`Conv2d`: the convolution itself;
- :class:`Conv2dGradWeights`: its gradient with respect to the filters;
- :class:`Conv2dGradInputs`: its gradient with respect to the input (the
  "transposed convolution").

All three are linear in each argument, so each one's gradient is built from
the other two and derivatives of any order work.

>>> import nnframe.tensor as T
>>> x = T.ftensor4('x'); w = T.ftensor4('w')
>>> T.nnet.conv2d(x, w, filter_shape=(32, 1, 3, 3), border_mode='half').type
TensorType(float32, shape=(?, 32, ?, ?))
"""
import numpy as np

from nnframe.core.graph import Apply, Constant, Variable
from nnframe.core.op import Op, as_tensor_variable
from nnframe.core.ops import elemwise as E
from nnframe.core.ops.shape import shape_i, specify_shape
from nnframe.core.types import TensorType, is_complex, is_discrete, upcast

__all__ = ["Conv2d", "Conv2dGradWeights", "Conv2dGradInputs", "conv2d",
           "conv2d_grad_wrt_inputs", "conv2d_grad_wrt_weights"]

_SIZE_MODES = ("full", "half", "same")
_BORDER_MODES = "'valid', 'full', 'half', 'same', an int or a pair of ints"


# -- sizes (Python ints or symbolic int64 scalars alike) ------------------------------------
def effective_size(k, dilation):
    """Extent of a ``k``-tap filter with ``dilation``: ``(k - 1) * dilation + 1``."""
    return (k - 1) * dilation + 1


def axis_pad(border_mode, axis, k, dilation):
    """Padding along spatial ``axis`` of a normalized ``border_mode`` for a ``k``-tap filter.

    ``border_mode`` is a pair of ints (padding given), 'full' (the effective
    filter size minus 1) or 'half'/'same' (half the effective size, rounded
    down).  Works on ints and on symbolic scalars.
    """
    if not isinstance(border_mode, str):
        return border_mode[axis]
    extent = effective_size(k, dilation)
    return extent - 1 if border_mode == "full" else extent // 2


def resolve_pad(border_mode, kernel_shape, dilation):
    """``(pad_rows, pad_cols)`` of a normalized ``border_mode`` for filters of ``kernel_shape``."""
    return tuple(axis_pad(border_mode, a, kernel_shape[a], dilation[a]) for a in range(2))


def conv_output_length(length, k, pad, stride, dilation):
    """Output length along one axis: ``(length + 2 pad - effective_k) // stride + 1``."""
    return (length + 2 * pad - effective_size(k, dilation)) // stride + 1


# -- argument checking ----------------------------------------------------------------------
def int_pair(value, what, minimum):
    """``value`` (an int or a pair of ints, each >= minimum) as a pair of ints."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else value
    try:
        pair = tuple(pair)
    except TypeError:
        pair = None
    if (pair is None or len(pair) != 2 or
            not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair)):
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")
    if any(v < minimum for v in pair):
        raise ValueError(f"{what} entries must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in pair)


def normalize_border_mode(border_mode):
    """``border_mode`` as a pair of ints, or 'full' / 'half' / 'same'."""
    if isinstance(border_mode, str):
        if border_mode == "valid":
            return (0, 0)
        if border_mode in _SIZE_MODES:
            return border_mode
        raise ValueError(f"border_mode {border_mode!r} is unknown; use {_BORDER_MODES}")
    try:
        return int_pair(border_mode, "border_mode", 0)
    except ValueError:
        raise ValueError(f"border_mode must be {_BORDER_MODES} (padding >= 0), "
                         f"got {border_mode!r}") from None


def check_same(border_mode, kernel_shape, dilation):
    """'same' needs odd effective filter sizes (symmetric padding)."""
    if border_mode != "same":
        return
    for k, d in zip(kernel_shape, dilation):
        if k is not None and effective_size(k, d) % 2 == 0:
            raise ValueError(f"border_mode='same' needs odd (dilated) filter sizes, got filter "
                             f"size {k} with dilation {d} (effective size "
                             f"{effective_size(k, d)}); pad explicitly with an int pair instead")


def _as_size(value, what):
    """An int64 scalar Variable for a spatial length given as an int or scalar."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        from nnframe.core.variable import constant
        if value < 0:
            raise ValueError(f"{what} must be >= 0, got {value}")
        return constant(int(value), dtype="int64")
    value = as_tensor_variable(value)
    if value.ndim != 0 or not is_discrete(value.dtype) or value.dtype == "bool":
        raise TypeError(f"{what} must be an integer scalar, got {value.type}")
    return E.cast(value, "int64")


def _static_int(var):
    """The value of a constant scalar, else None."""
    return int(var.data) if isinstance(var, Constant) else None


def _check_tensor4(var, what):
    var = as_tensor_variable(var)
    if var.ndim != 4:
        raise TypeError(f"conv2d: {what} must be a 4-d tensor, got {var.type} ({var.ndim}-d)")
    if is_complex(var.dtype) or var.dtype == "bool":
        raise TypeError(f"conv2d: {what} must have a real numeric dtype, got {var.type}")
    return var


def _check_match(a, axis_a, b, axis_b, what):
    na, nb = a.type.shape[axis_a], b.type.shape[axis_b]
    if na is not None and nb is not None and na != nb:
        raise ValueError(f"conv2d: {what} differ: {a.type} (axis {axis_a}) and {b.type} "
                         f"(axis {axis_b})")


class _ConvBase(Op):
    """Properties shared by the forward convolution and its two gradients.

    Parameters
    ----------
    border_mode : pair of ints (padding), or 'valid', 'full', 'half', 'same'
    subsample : pair of ints, the strides
    filter_flip : bool, True for a true convolution (filters flipped)
    filter_dilation : pair of ints
    """

    __props__ = ("border_mode", "subsample", "filter_flip", "filter_dilation")

    def __init__(self, border_mode="valid", subsample=(1, 1), filter_flip=True,
                 filter_dilation=(1, 1)):
        self.border_mode = normalize_border_mode(border_mode)
        self.subsample = int_pair(subsample, "subsample (the stride)", 1)
        self.filter_flip = bool(filter_flip)
        self.filter_dilation = int_pair(filter_dilation, "filter_dilation", 1)

    def pads(self, kernel_shape):
        """``(pad_rows, pad_cols)`` for filters of spatial size ``kernel_shape``."""
        return resolve_pad(self.border_mode, kernel_shape, self.filter_dilation)

    def output_spatial(self, image_shape, kernel_shape):
        """Output ``(rows, cols)`` from the input and filter spatial sizes."""
        pads = self.pads(kernel_shape)
        return tuple(conv_output_length(n, k, p, s, d) for n, k, p, s, d in
                     zip(image_shape, kernel_shape, pads, self.subsample, self.filter_dilation))

    def static_output_spatial(self, image_shape, kernel_shape):
        """Static output ``(rows, cols)``, None where unknown; raises if a length is < 1."""
        check_same(self.border_mode, kernel_shape, self.filter_dilation)
        out = []
        for axis, (n, k) in enumerate(zip(image_shape, kernel_shape)):
            if n is None or k is None:
                out.append(None)
                continue
            dilation = self.filter_dilation[axis]
            pad = axis_pad(self.border_mode, axis, k, dilation)
            length = conv_output_length(n, k, pad, self.subsample[axis], dilation)
            if length < 1:
                raise ValueError(
                    f"conv2d: the filter (effective size {effective_size(k, dilation)} on "
                    f"spatial axis {axis}) is larger than the padded input (length {n} + 2 * "
                    f"{pad}); use a smaller filter or more padding (border_mode='half' or "
                    "'full')")
            out.append(length)
        return tuple(out)

    # -- run-time checks (plain shapes and ints: every backend calls them) --
    def runtime_sizes(self, image, kernel_shape):
        """``(pads, out)``: the padding and the output (rows, cols), as ints, for an input of
        run-time spatial size ``image`` and filters of ``kernel_shape``.

        Raises ValueError where 'same' cannot pad symmetrically (even filter
        sizes) and where the filters do not fit in the padded input.
        """
        dilation = self.filter_dilation
        if self.border_mode == "same":
            check_same("same", kernel_shape, dilation)
        pads = tuple(int(axis_pad(self.border_mode, a, kernel_shape[a], dilation[a]))
                     for a in range(2))
        out = tuple(conv_output_length(image[a], kernel_shape[a], pads[a], self.subsample[a],
                                       dilation[a]) for a in range(2))
        if min(out) < 1:
            extents = tuple(effective_size(k, d) for k, d in zip(kernel_shape, dilation))
            raise ValueError(f"{self}: filters of (dilated) spatial size {extents} do not "
                             f"fit in an input of spatial size {tuple(image)} padded by {pads}")
        return pads, out

    def check_channels(self, what_a, a_shape, axis_a, what_b, b_shape, axis_b):
        """Raise ValueError unless axis ``axis_a`` of ``a_shape`` and ``axis_b`` of ``b_shape``
        (run-time shapes of the inputs named ``what_a`` and ``what_b``) have equal lengths."""
        if a_shape[axis_a] != b_shape[axis_b]:
            raise ValueError(f"{self}: {what_a} of shape {a_shape} has {a_shape[axis_a]} channels "
                             f"(axis {axis_a}) but {what_b} of shape {b_shape} has "
                             f"{b_shape[axis_b]} (axis {axis_b}); they must match")

    def check_grad_shape(self, g_shape, expected):
        """Raise ValueError unless the run-time output_grad shape is the forward's output shape."""
        if g_shape != expected:
            raise ValueError(f"{self}: output_grad has shape {g_shape} but the convolution's "
                             f"output has shape {expected}")

    def check_grad_size(self, image_shape, kernel_shape, grad_shape):
        """The static output_grad size must be what the forward would produce."""
        expected = self.static_output_spatial(image_shape, kernel_shape)
        for axis, (want, got) in enumerate(zip(expected, grad_shape)):
            if want is not None and got is not None and want != got:
                raise ValueError(f"{type(self).__name__}: output_grad has length {got} on "
                                 f"spatial axis {axis} but the convolution gives {want}")


class Conv2d(_ConvBase):
    """2-d convolution of ``input`` (b, c, rows, cols) with ``filters`` (o, c, kr, kc).

    See :func:`conv2d` for the meaning of the properties.  The output is
    ``(b, o, out_rows, out_cols)``.
    """

    def make_node(self, input, filters):
        input = _check_tensor4(input, "input")
        filters = _check_tensor4(filters, "filters")
        _check_match(input, 1, filters, 1, "the input channels and the filters' input channels")
        rows, cols = self.static_output_spatial(input.type.shape[2:], filters.type.shape[2:])
        shape = (input.type.shape[0], filters.type.shape[0], rows, cols)
        return Apply(self, [input, filters],
                     [TensorType(upcast(input.dtype, filters.dtype), shape)])

    def infer_shape(self, node, input_shapes):
        (b, _, rows, cols), (o, _, kr, kc) = input_shapes
        return [(b, o) + self.output_spatial((rows, cols), (kr, kc))]

    def L_op(self, inputs, outputs, output_grads):
        (x, w), (g,) = inputs, output_grads
        props = self._props()
        gx = Conv2dGradInputs(*props)(w, g, shape_i(x, 2), shape_i(x, 3))
        gw = Conv2dGradWeights(*props)(x, g, shape_i(w, 2), shape_i(w, 3))
        return [None if is_discrete(v.dtype) else gv for v, gv in ((x, gx), (w, gw))]


class Conv2dGradWeights(_ConvBase):
    """Gradient of :class:`Conv2d` with respect to the filters.

    Inputs: the forward ``input``, the gradient ``output_grad`` of the forward
    output and the filters' spatial size ``(krows, kcols)`` as two integer
    scalars (a stride can make it ambiguous).  Output: ``(o, c, krows, kcols)``.
    """

    def make_node(self, input, output_grad, krows, kcols):
        input = _check_tensor4(input, "input")
        output_grad = _check_tensor4(output_grad, "output_grad")
        krows, kcols = _as_size(krows, "krows"), _as_size(kcols, "kcols")
        _check_match(input, 0, output_grad, 0, "the batch sizes of input and output_grad")
        kshape = (_static_int(krows), _static_int(kcols))
        self.check_grad_size(input.type.shape[2:], kshape, output_grad.type.shape[2:])
        shape = (output_grad.type.shape[1], input.type.shape[1]) + kshape
        return Apply(self, [input, output_grad, krows, kcols],
                     [TensorType(upcast(input.dtype, output_grad.dtype), shape)])

    def infer_shape(self, node, input_shapes):
        (_, c, _, _), (_, o, _, _) = input_shapes[:2]
        return [(o, c, node.inputs[2], node.inputs[3])]

    def L_op(self, inputs, outputs, output_grads):
        # With dw the gradient of this output (shaped like the filters):
        # <grad_weights(x, g), dw> = <conv(x, dw), g>, linear in x and in g.
        (x, g, _, _), (dw,) = inputs, output_grads
        props = self._props()
        gx = Conv2dGradInputs(*props)(dw, g, shape_i(x, 2), shape_i(x, 3))
        gg = Conv2d(*props)(x, dw)
        return [None if is_discrete(x.dtype) else gx,
                None if is_discrete(g.dtype) else gg, None, None]


class Conv2dGradInputs(_ConvBase):
    """Gradient of :class:`Conv2d` with respect to its input (transposed convolution).

    Inputs: the ``filters``, the gradient ``output_grad`` of the forward
    output and the input's spatial size ``(rows, cols)`` as two integer
    scalars (a stride can make it ambiguous).  Output: ``(b, c, rows, cols)``.
    """

    def make_node(self, filters, output_grad, rows, cols):
        filters = _check_tensor4(filters, "filters")
        output_grad = _check_tensor4(output_grad, "output_grad")
        rows, cols = _as_size(rows, "rows"), _as_size(cols, "cols")
        _check_match(filters, 0, output_grad, 1,
                     "the filters' output channels and the channels of output_grad")
        image = (_static_int(rows), _static_int(cols))
        self.check_grad_size(image, filters.type.shape[2:], output_grad.type.shape[2:])
        shape = (output_grad.type.shape[0], filters.type.shape[1]) + image
        return Apply(self, [filters, output_grad, rows, cols],
                     [TensorType(upcast(filters.dtype, output_grad.dtype), shape)])

    def infer_shape(self, node, input_shapes):
        (_, c, _, _), (b, _, _, _) = input_shapes[:2]
        return [(b, c, node.inputs[2], node.inputs[3])]

    def L_op(self, inputs, outputs, output_grads):
        # With dx the gradient of this output (shaped like the input):
        # <grad_inputs(w, g), dx> = <conv(dx, w), g>, linear in w and in g.
        (w, g, _, _), (dx,) = inputs, output_grads
        props = self._props()
        gw = Conv2dGradWeights(*props)(dx, g, shape_i(w, 2), shape_i(w, 3))
        gg = Conv2d(*props)(dx, w)
        return [None if is_discrete(w.dtype) else gw,
                None if is_discrete(g.dtype) else gg, None, None]


# -- builders -------------------------------------------------------------------------------
def _apply_hint(var, hint, what):
    """``var`` with the static lengths of ``hint`` (4 entries, ints or None)."""
    if hint is None:
        return var
    hint = tuple(hint)
    if len(hint) != 4:
        raise ValueError(f"conv2d: {what} must have 4 entries (None for unknown), got {hint!r}")
    static = []
    for entry in hint:
        if isinstance(entry, Variable):
            entry = _static_int(entry)
        if entry is not None and not (isinstance(entry, (int, np.integer)) and entry >= 0):
            raise ValueError(f"conv2d: {what} entries must be ints >= 0 or None, got {hint!r}")
        static.append(None if entry is None else int(entry))
    merged = tuple(h if h is not None else n for h, n in zip(static, var.type.shape))
    try:
        return specify_shape(var, merged)
    except ValueError:
        raise ValueError(f"conv2d: {what} {hint!r} contradicts the static shape of "
                         f"{var.type}") from None


def _make_props(border_mode, subsample, filter_flip, filter_dilation, kernel_shape):
    """Normalized Op properties; size-dependent modes become pads when the filter size is static."""
    border_mode = normalize_border_mode(border_mode)
    dilation = int_pair(filter_dilation, "filter_dilation", 1)
    if isinstance(border_mode, str) and None not in kernel_shape:
        check_same(border_mode, kernel_shape, dilation)
        border_mode = resolve_pad(border_mode, kernel_shape, dilation)
    return (border_mode, int_pair(subsample, "subsample (the stride)", 1), bool(filter_flip),
            dilation)


def conv2d(input, filters, input_shape=None, filter_shape=None, border_mode="valid",
           subsample=(1, 1), filter_flip=True, filter_dilation=(1, 1)):
    """2-d convolution of a batch of images with a bank of filters (Theano's ``conv2d``).

    Computes ``out[b, o, i, j] = sum_{c, u, v} xpad[b, c, i*sr + u*dr, j*sc + v*dc]
    * w'[o, c, u, v]`` where ``xpad`` is the zero-padded input and ``w'`` the
    filters flipped along both spatial axes when ``filter_flip`` (a true
    convolution) or the filters themselves (a cross-correlation).

    Parameters
    ----------
    input : 4-d tensor (batch, in_channels, rows, cols)
    filters : 4-d tensor (out_channels, in_channels, krows, kcols)
    input_shape, filter_shape : optional 4-tuples of ints or None
        Static shape hints: they fill in the static output shape and are
        checked when the function runs.
    border_mode : 'valid', 'full', 'half', 'same', int or (int, int)
        'valid': no padding; 'full': pad by the (dilated) filter size - 1;
        'half': pad by half the (dilated) filter size, rounded down; 'same':
        like 'half', restricted to odd filter sizes, so that the output has the
        input's size for stride 1; an int or a pair pads rows and columns with
        zeros on both sides.
    subsample : (int, int)
        Strides along rows and columns (an int means the same for both).
    filter_flip : bool
        True (the default, as in Theano and Lasagne) flips the filters: a true
        convolution.  False gives a cross-correlation.
    filter_dilation : (int, int)
        Spacing between filter taps (atrous convolution).

    Returns
    -------
    4-d tensor (batch, out_channels, out_rows, out_cols), where
    ``out_rows = (rows + 2 * pad - ((krows - 1) * dilation + 1)) // stride + 1``.

    Examples
    --------
    >>> import nnframe.tensor as T
    >>> x = T.tensor('float32', shape=(None, 1, 28, 28))
    >>> w = T.tensor('float32', shape=(32, 1, 5, 5))
    >>> T.nnet.conv2d(x, w).type
    TensorType(float32, shape=(?, 32, 24, 24))
    """
    input = _apply_hint(_check_tensor4(input, "input"), input_shape, "input_shape")
    filters = _apply_hint(_check_tensor4(filters, "filters"), filter_shape, "filter_shape")
    props = _make_props(border_mode, subsample, filter_flip, filter_dilation,
                        filters.type.shape[2:])
    return Conv2d(*props)(input, filters)


def _spatial(shape, what):
    """The last two entries of a 4-entry ``shape`` (ints or int scalars)."""
    if isinstance(shape, Variable) or len(tuple(shape)) != 4:
        raise ValueError(f"{what} must be a sequence of 4 entries (ints or integer scalars), "
                         f"got {shape!r}")
    shape = tuple(shape)
    if shape[2] is None or shape[3] is None:
        raise ValueError(f"{what}: the spatial lengths (entries 2 and 3) must be given, "
                         f"got {shape!r}")
    return shape[2], shape[3]


def conv2d_grad_wrt_inputs(output_grad, filters, input_shape, filter_shape=None,
                           border_mode="valid", subsample=(1, 1), filter_flip=True,
                           filter_dilation=(1, 1)):
    """Gradient of :func:`conv2d` with respect to its input: a transposed convolution.

    Parameters
    ----------
    output_grad : 4-d tensor (batch, out_channels, out_rows, out_cols)
    filters : 4-d tensor (out_channels, in_channels, krows, kcols)
    input_shape : 4 entries; entries 2 and 3 (ints or integer scalars) are the
        spatial size of the result (a stride makes it ambiguous)
    other parameters : as in :func:`conv2d`

    Returns
    -------
    4-d tensor (batch, in_channels, rows, cols)

    Examples
    --------
    >>> import nnframe.tensor as T
    >>> g = T.ftensor4('g'); w = T.tensor('float32', shape=(8, 3, 3, 3))
    >>> conv2d_grad_wrt_inputs(g, w, (None, 3, 32, 32), subsample=2).type
    TensorType(float32, shape=(?, 3, 32, 32))
    """
    output_grad = _check_tensor4(output_grad, "output_grad")
    filters = _apply_hint(_check_tensor4(filters, "filters"), filter_shape, "filter_shape")
    rows, cols = _spatial(input_shape, "input_shape")
    props = _make_props(border_mode, subsample, filter_flip, filter_dilation,
                        filters.type.shape[2:])
    result = Conv2dGradInputs(*props)(filters, output_grad, rows, cols)
    return _apply_hint(result, tuple(input_shape[:2]) + (None, None), "input_shape")


def conv2d_grad_wrt_weights(input, output_grad, filter_shape, input_shape=None,
                            border_mode="valid", subsample=(1, 1), filter_flip=True,
                            filter_dilation=(1, 1)):
    """Gradient of :func:`conv2d` with respect to its filters.

    Parameters
    ----------
    input : 4-d tensor (batch, in_channels, rows, cols)
    output_grad : 4-d tensor (batch, out_channels, out_rows, out_cols)
    filter_shape : 4 entries; entries 2 and 3 (ints or integer scalars) are the
        filters' spatial size
    other parameters : as in :func:`conv2d`

    Returns
    -------
    4-d tensor (out_channels, in_channels, krows, kcols)

    Examples
    --------
    >>> import nnframe.tensor as T
    >>> x = T.ftensor4('x'); g = T.ftensor4('g')
    >>> conv2d_grad_wrt_weights(x, g, (None, None, 3, 3)).type
    TensorType(float32, shape=(?, ?, 3, 3))
    """
    input = _apply_hint(_check_tensor4(input, "input"), input_shape, "input_shape")
    output_grad = _check_tensor4(output_grad, "output_grad")
    krows, kcols = _spatial(filter_shape, "filter_shape")
    kernel = tuple(k if isinstance(k, (int, np.integer)) else None for k in (krows, kcols))
    props = _make_props(border_mode, subsample, filter_flip, filter_dilation, kernel)
    result = Conv2dGradWeights(*props)(input, output_grad, krows, kcols)
    return _apply_hint(result, tuple(filter_shape[:2]) + (None, None), "filter_shape")
