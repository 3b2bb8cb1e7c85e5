"""Pooling layers: Pool1DLayer, Pool2DLayer, MaxPool1DLayer, MaxPool2DLayer,
GlobalPoolLayer, Upscale1DLayer and Upscale2DLayer (Lasagne's ``pool``)."""
from typing import Literal, get_args

import numpy as np

import nnframe.tensor as T
from nnframe.core.ops.pool import pool_output_length
from nnframe.layers.base import Layer, LayerError
from nnframe.layers.conv import int_pair_param, int_param

__all__ = ["Pool1DLayer", "Pool2DLayer", "MaxPool1DLayer", "MaxPool2DLayer", "GlobalPoolLayer",
           "Upscale1DLayer", "Upscale2DLayer"]

#: the pooling modes (the annotation lets recipes offer exactly these)
PoolMode = Literal["max", "average_inc_pad", "average_exc_pad"]
_MODES = get_args(PoolMode)


class Pool2DLayer(Layer):
    """2-d pooling of the last two axes of a 4-d (batch, channels, rows, cols) input.

    Each ``pool_size`` window, taken every ``stride`` in the input padded by
    ``pad`` on both sides, is reduced to its maximum or its mean.  The output
    length along each pooled axis is ``(length + 2 * pad - pool_size) // stride + 1``
    with ``ignore_border=True``; with ``False``, windows that start inside
    the input but run past its end are kept too.  Unknown lengths stay None.

    Parameters
    ----------
    incoming : a Layer or a shape tuple (4-d)
    pool_size : int or (int, int)
    stride : int, (int, int) or None
        None (the default) is ``pool_size``: windows do not overlap.
    pad : int or (int, int)
        Zeros added on both sides (each < pool_size; needs ignore_border).
        Padding never wins a max and is not counted by 'average_exc_pad'.
    ignore_border : bool
    mode : 'max', 'average_inc_pad' or 'average_exc_pad'
        'average_inc_pad' counts the padding in each window's size.
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> l_pool = Pool2DLayer(InputLayer((None, 16, 9, 9)), 2, mode='average_exc_pad')
    >>> l_pool.output_shape
    (None, 16, 4, 4)
    """

    default_name = "pool"

    def __init__(self, incoming, pool_size, stride=None, pad=(0, 0), ignore_border=True,
                 mode: PoolMode = "max", name=None):
        super().__init__(incoming, name)
        if len(self.input_shape) != 4:
            source = f" from {self.input_layer.describe()}" if self.input_layer else ""
            raise self.fail(f"needs a 4-d input (batch, channels, rows, cols), got the shape "
                            f"{self.input_shape}{source}")
        self.pool_size = int_pair_param(self, pool_size, "pool_size", 1)
        self.stride = (self.pool_size if stride is None
                       else int_pair_param(self, stride, "stride", 1))
        self.pad = int_pair_param(self, pad, "pad", 0)
        self.ignore_border = bool(ignore_border)
        if mode not in _MODES:
            raise self.fail(f"mode {mode!r} is unknown; use one of {', '.join(map(repr, _MODES))}")
        self.mode = mode
        if self.pad != (0, 0) and not self.ignore_border:
            raise self.fail(f"pad {self.pad} needs ignore_border=True")
        if any(p >= s for p, s in zip(self.pad, self.pool_size)):
            raise self.fail(f"pad {self.pad} must be smaller than pool_size {self.pool_size}")
        self.get_output_shape_for(self.input_shape)  # a window that cannot fit fails now

    def get_output_shape_for(self, input_shape):
        spatial = []
        for axis in range(2):
            length = input_shape[2 + axis]
            if length is None:
                spatial.append(None)
                continue
            if self.ignore_border and length + 2 * self.pad[axis] < self.pool_size[axis]:
                raise self.fail(f"pool_size {self.pool_size} (pad {self.pad}) does not fit in "
                                f"the input of shape {tuple(input_shape)}; use a smaller "
                                "pool_size or ignore_border=False")
            spatial.append(int(pool_output_length(length, self.pool_size[axis],
                                                  self.stride[axis], self.pad[axis],
                                                  self.ignore_border)))
        return tuple(input_shape[:2]) + tuple(spatial)

    def get_output_for(self, input, **kwargs):
        return T.nnet.pool_2d(input, self.pool_size, ignore_border=self.ignore_border,
                              stride=self.stride, pad=self.pad, mode=self.mode)


class MaxPool2DLayer(Pool2DLayer):
    """2-d max pooling: :class:`Pool2DLayer` with ``mode='max'``.

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> MaxPool2DLayer(InputLayer((None, 32, 28, 28)), pool_size=2).output_shape
    (None, 32, 14, 14)
    """

    default_name = "maxpool"

    def __init__(self, incoming, pool_size, stride=None, pad=(0, 0), ignore_border=True,
                 name=None):
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode="max", name=name)


class GlobalPoolLayer(Layer):
    """Pools each channel over all its trailing axes: ``(batch, channels, ...)`` ->
    ``(batch, channels)``.

    Computes ``pool_function(flatten(input, 3), axis=2)``.

    Parameters
    ----------
    incoming : a Layer or a shape tuple with at least 3 axes
    pool_function : callable ``f(x, axis=...)``
        ``T.mean`` (the default, global average pooling), ``T.max``, ``T.sum``...
    name : str, optional

    Examples
    --------
    >>> import nnframe.tensor as T
    >>> from nnframe.layers import InputLayer
    >>> GlobalPoolLayer(InputLayer((None, 64, 7, 7)), T.max).output_shape
    (None, 64)
    """

    default_name = "globalpool"

    def __init__(self, incoming, pool_function=T.mean, name=None):
        super().__init__(incoming, name)
        if len(self.input_shape) < 3:
            source = f" from {self.input_layer.describe()}" if self.input_layer else ""
            raise self.fail(f"needs an input with at least 3 axes (batch, channels, ...), got "
                            f"the shape {self.input_shape}{source}")
        self.pool_function = pool_function

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape[:2])

    def get_output_for(self, input, **kwargs):
        return self.pool_function(T.flatten(input, 3), axis=2)


class Pool1DLayer(Layer):
    """1-d pooling of the last axis of a 3-d (batch, channels, length) input.

    :class:`Pool2DLayer` along one axis (computed by the 2-d pooling on a
    dummy trailing axis of length 1): the output length is
    ``(length + 2 * pad - pool_size) // stride + 1`` with ``ignore_border``.

    Parameters
    ----------
    incoming : a Layer or a shape tuple (3-d)
    pool_size : int
    stride : int or None
        None (the default) is ``pool_size``.
    pad : int
    ignore_border : bool
    mode : 'max', 'average_inc_pad' or 'average_exc_pad'
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> Pool1DLayer(InputLayer((None, 16, 9)), 2, mode='average_exc_pad').output_shape
    (None, 16, 4)
    """

    default_name = "pool"

    def __init__(self, incoming, pool_size, stride=None, pad=0, ignore_border=True,
                 mode: PoolMode = "max", name=None):
        super().__init__(incoming, name)
        if len(self.input_shape) != 3:
            source = f" from {self.input_layer.describe()}" if self.input_layer else ""
            raise self.fail(f"needs a 3-d input (batch, channels, length), got the shape "
                            f"{self.input_shape}{source}")
        self.pool_size = (int_param(self, pool_size, "pool_size", 1),)
        self.stride = self.pool_size if stride is None else \
            (int_param(self, stride, "stride", 1),)
        self.pad = (int_param(self, pad, "pad", 0),)
        self.ignore_border = bool(ignore_border)
        # The 2-d layer on the dummy axis checks the rest (mode, pad, fit) and gives the shapes.
        try:
            self._pool2d = Pool2DLayer(tuple(self.input_shape) + (1,), self.pool_size + (1,),
                                       self.stride + (1,), self.pad + (0,),
                                       self.ignore_border, mode, name=self.name)
        except LayerError as e:
            raise self.fail(str(e).split(": ", 1)[1].replace(", 1)", ")")) from None
        self._pool2d.describe = self.describe
        self.mode = mode

    def get_output_shape_for(self, input_shape):
        return self._pool2d.get_output_shape_for(tuple(input_shape) + (1,))[:3]

    def get_output_for(self, input, **kwargs):
        pooled = self._pool2d.get_output_for(T.dimshuffle(input, (0, 1, 2, "x")))
        return pooled[:, :, :, 0]


class MaxPool1DLayer(Pool1DLayer):
    """1-d max pooling: :class:`Pool1DLayer` with ``mode='max'``.

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> MaxPool1DLayer(InputLayer((None, 32, 100)), pool_size=4).output_shape
    (None, 32, 25)
    """

    default_name = "maxpool"

    def __init__(self, incoming, pool_size, stride=None, pad=0, ignore_border=True,
                 name=None):
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode="max", name=name)


#: how upscaling fills the new entries: copies, or zeros between the inputs
UpscaleMode = Literal["repeat", "dilate"]
_UPSCALE_MODES = get_args(UpscaleMode)


class _Upscale(Layer):
    """Upscaling of the trailing ``ndim`` axes by integer factors."""

    def _check(self, ndim, axes, scale_factor, mode):
        if len(self.input_shape) != ndim + 2:
            source = f" from {self.input_layer.describe()}" if self.input_layer else ""
            raise self.fail(f"needs a {ndim + 2}-d input ({axes}), got the shape "
                            f"{self.input_shape}{source}")
        if mode not in _UPSCALE_MODES:
            raise self.fail(f"mode {mode!r} is unknown; use 'repeat' or 'dilate'")
        self.mode = mode

    def get_output_shape_for(self, input_shape):
        spatial = tuple(None if n is None else n * f
                        for n, f in zip(input_shape[2:], self.scale_factor))
        return tuple(input_shape[:2]) + spatial

    def get_output_for(self, input, **kwargs):
        if all(f == 1 for f in self.scale_factor):
            return input
        ndim = len(self.scale_factor)
        shape = [T.shape_i(input, axis) for axis in range(input.ndim)]
        out_shape = shape[:2] + [n * f for n, f in zip(shape[2:], self.scale_factor)]
        if self.mode == "dilate":
            out = T.alloc(np.asarray(0, dtype=input.dtype), *out_shape)
            index = (slice(None),) * 2 + tuple(slice(None, None, f) for f in self.scale_factor)
            return T.set_subtensor(out[index], input)
        # repeat: a new axis of length f after each upscaled one, broadcast, then merged
        pattern, tiled = [0, 1], list(shape[:2])
        for k in range(ndim):
            pattern += [2 + k, "x"]
            tiled += [shape[2 + k], self.scale_factor[k]]
        return T.reshape(T.alloc(T.dimshuffle(input, pattern), *tiled), out_shape)


class Upscale1DLayer(_Upscale):
    """Upscales the last axis of a 3-d (batch, channels, length) input by ``scale_factor``.

    Parameters
    ----------
    incoming : a Layer or a shape tuple (3-d)
    scale_factor : int >= 1
    mode : 'repeat' or 'dilate'
        'repeat': each entry repeated ``scale_factor`` times; 'dilate': each
        entry followed by ``scale_factor - 1`` zeros.
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> Upscale1DLayer(InputLayer((None, 8, 25)), scale_factor=4).output_shape
    (None, 8, 100)
    """

    default_name = "upscale"

    def __init__(self, incoming, scale_factor, mode: UpscaleMode = "repeat", name=None):
        super().__init__(incoming, name)
        self.scale_factor = (int_param(self, scale_factor, "scale_factor", 1),)
        self._check(1, "batch, channels, length", scale_factor, mode)


class Upscale2DLayer(_Upscale):
    """Upscales the last two axes of a 4-d (batch, channels, rows, cols) input.

    Parameters
    ----------
    incoming : a Layer or a shape tuple (4-d)
    scale_factor : int or (int, int), >= 1
    mode : 'repeat' or 'dilate'
        'repeat': each entry becomes a ``scale_factor`` block of copies (nearest
        neighbour); 'dilate': the entry at the block's top left, zeros elsewhere.
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> Upscale2DLayer(InputLayer((None, 8, 14, 14)), scale_factor=(2, 3)).output_shape
    (None, 8, 28, 42)
    """

    default_name = "upscale"

    def __init__(self, incoming, scale_factor, mode: UpscaleMode = "repeat", name=None):
        super().__init__(incoming, name)
        self.scale_factor = int_pair_param(self, scale_factor, "scale_factor", 1)
        self._check(2, "batch, channels, rows, cols", scale_factor, mode)
