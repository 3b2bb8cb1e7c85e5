"""Convolution layers (Lasagne's ``lasagne.layers.conv``): Conv2DLayer (2-d convolution of
NCHW image batches), Conv1DLayer (the 2-d convolution on a dummy axis) and
TransposedConv2DLayer (``Deconv2DLayer``, the gradient of a 2-d convolution with
respect to its input)."""
import numpy as np

import nnframe.tensor as T
from nnframe import init, nonlinearities
from nnframe.core.ops.conv import conv2d_grad_wrt_inputs, conv_output_length, effective_size
from nnframe.layers.base import Layer

__all__ = ["Conv1DLayer", "Conv2DLayer", "TransposedConv2DLayer", "Deconv2DLayer"]

_PADS = "'valid', 'full', 'same', an int or a pair of ints"


def _output_length(length, filter_size, stride, pad, dilation):
    """Output length of a convolution along one axis; None when ``length`` is None."""
    if length is None:
        return None
    return conv_output_length(length, filter_size, pad, stride, dilation)


def int_param(layer, value, what, minimum):
    """``value`` (an int or a 1-tuple of an int >= minimum) as an int; else ``layer``'s error."""
    one = value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value
    if isinstance(one, bool) or not isinstance(one, (int, np.integer)) or one < minimum:
        raise layer.fail(f"{what} must be an int >= {minimum}, got {value!r}")
    return int(one)


def int_pair_param(layer, value, what, minimum):
    """``value`` (an int or a pair of ints >= minimum) as a pair; else ``layer``'s error."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else value
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2 or
            not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair)
            or any(v < minimum for v in pair)):
        raise layer.fail(f"{what} must be an int or a pair of ints >= {minimum}, got {value!r}")
    return tuple(int(v) for v in pair)


def _source(layer):
    """`` from <input layer>`` for messages about ``layer``'s input, or nothing."""
    return f" from {layer.input_layer.describe()}" if layer.input_layer else ""

class Conv2DLayer(Layer):
    """2-d convolution layer: ``nonlinearity(conv2d(input, W) + b)``.

    The input is a 4-d batch ``(batch, channels, rows, cols)``; the output
    ``(batch, num_filters, out_rows, out_cols)`` with
    ``out_rows = (rows + 2 * pad - ((filter_rows - 1) * dilation + 1)) // stride + 1``
    (None when ``rows`` is unknown).

    Parameters
    ----------
    incoming : a Layer or a shape tuple (the channel count must be known)
    num_filters : int
        Number of output channels.
    filter_size : int or (int, int)
    stride : int or (int, int)
    pad : 'valid', 'full', 'same', int or (int, int)
        'valid' (= 0): only complete windows; 'full': pad by the (dilated)
        filter size - 1 on each side; 'same': pad by half the (dilated)
        filter size, so that the output has the input's size for stride 1
        (odd filter sizes only); an int or a pair: zeros added on both sides.
    untie_biases : bool
        False: one bias per filter, b of shape (num_filters,).  True: one bias
        per filter and output position, b of shape (num_filters, out_rows,
        out_cols) (the output size must then be known).
    W : initialiser, array or shared variable
        Filters of shape (num_filters, in_channels, filter_rows, filter_cols).
    b : initialiser, array, shared variable or None (no bias)
    nonlinearity : callable or None (linear); default ``rectify``
    flip_filters : bool
        True (the default, as in Lasagne): a true convolution (the filters
        are flipped); False: a cross-correlation.
    dilation : int or (int, int)
        Spacing between filter taps (atrous convolution).
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> l_in = InputLayer((None, 1, 28, 28))
    >>> l_conv = Conv2DLayer(l_in, num_filters=32, filter_size=5, pad='same', name='conv1')
    >>> l_conv.W.get_value().shape, l_conv.output_shape
    ((32, 1, 5, 5), (None, 32, 28, 28))
    """

    default_name = "conv"

    def __init__(self, incoming, num_filters, filter_size, stride=(1, 1), pad=0,
                 untie_biases=False, W=init.GlorotUniform(), b=init.Constant(0.0),
                 nonlinearity=nonlinearities.rectify, flip_filters=True, dilation=(1, 1),
                 name=None):
        super().__init__(incoming, name)
        _check_input(self, 4, "batch, channels, rows, cols")
        self.num_filters = _num_filters(self, num_filters)
        self.filter_size = int_pair_param(self, filter_size, "filter_size", 1)
        self.stride = int_pair_param(self, stride, "stride", 1)
        self.dilation = int_pair_param(self, dilation, "dilation", 1)
        self.pad = self._resolve_pad(pad)
        self.untie_biases = bool(untie_biases)
        self.flip_filters = bool(flip_filters)
        self.nonlinearity = nonlinearity or nonlinearities.identity
        out_shape = self.get_output_shape_for(self.input_shape)
        self.W = self.add_param(W, self.get_W_shape(), "W")
        self.b = _conv_bias(self, b, out_shape)

    def _resolve_pad(self, pad):
        """``pad`` as a pair of ints, the zeros added on both sides of rows and columns."""
        extents = [effective_size(k, d) for k, d in zip(self.filter_size, self.dilation)]
        if pad == "valid":
            return (0, 0)
        if pad == "full":
            return tuple(e - 1 for e in extents)
        if pad == "same":
            if any(e % 2 == 0 for e in extents):
                raise self.fail(f"pad='same' needs odd (dilated) filter sizes, got filter_size "
                                f"{self.filter_size} with dilation {self.dilation}; pad with "
                                "an int pair instead")
            return tuple(e // 2 for e in extents)
        if isinstance(pad, str):
            raise self.fail(f"pad {pad!r} is unknown; use {_PADS}")
        return int_pair_param(self, pad, "pad", 0)

    def get_W_shape(self):
        """Shape of the filters: (num_filters, in_channels, filter_rows, filter_cols)."""
        return (self.num_filters, self.input_shape[1]) + self.filter_size

    def get_output_shape_for(self, input_shape):
        spatial = []
        for axis in range(2):
            length = _output_length(input_shape[2 + axis], self.filter_size[axis],
                                    self.stride[axis], self.pad[axis], self.dilation[axis])
            if length is not None and length <= 0:
                raise self.fail(f"the (dilated) filter size {self.filter_size} (dilation "
                                f"{self.dilation}, pad {self.pad}) does not fit in the input "
                                f"of shape {tuple(input_shape)}; use a smaller filter or more "
                                "padding")
            spatial.append(length)
        return (input_shape[0], self.num_filters) + tuple(spatial)

    def get_output_for(self, input, **kwargs):
        conved = T.nnet.conv2d(input, self.W, input_shape=self.input_shape,
                               filter_shape=self.get_W_shape(), border_mode=self.pad,
                               subsample=self.stride, filter_flip=self.flip_filters,
                               filter_dilation=self.dilation)
        return self.nonlinearity(_add_bias(self, conved, 2))


def _conv_bias(layer, b, out_shape):
    """The bias parameter: None, one per filter, or one per filter and output position."""
    if b is None:
        return None
    if layer.untie_biases:
        if None in out_shape[2:]:
            raise layer.fail(f"untie_biases=True needs a known output size, but the input "
                             f"shape {layer.input_shape} gives {out_shape}")
        return layer.add_param(b, out_shape[1:], "b", regularizable=False)
    return layer.add_param(b, (layer.num_filters,), "b", regularizable=False)


def _num_filters(layer, num_filters):
    if isinstance(num_filters, bool) or not isinstance(num_filters, (int, np.integer)) or \
            num_filters <= 0:
        raise layer.fail(f"num_filters must be a positive integer, got {num_filters!r}")
    return int(num_filters)


def _check_input(layer, ndim, axes):
    if len(layer.input_shape) != ndim:
        raise layer.fail(f"needs a {ndim}-d input ({axes}), got the shape "
                         f"{layer.input_shape}{_source(layer)}")
    if layer.input_shape[1] is None:
        raise layer.fail(f"the number of input channels of the shape {layer.input_shape}"
                         f"{_source(layer)} is unknown; give it in the InputLayer shape")


def _add_bias(layer, activation, spatial):
    if layer.b is None:
        return activation
    pattern = ("x", 0) + (tuple(range(1, 1 + spatial)) if layer.untie_biases
                          else ("x",) * spatial)
    return activation + T.dimshuffle(layer.b, pattern)


class Conv1DLayer(Layer):
    """1-d convolution layer: ``nonlinearity(conv1d(input, W) + b)``.

    The input is a 3-d batch ``(batch, channels, length)``; the output
    ``(batch, num_filters, out_length)`` with ``out_length = (length + 2 * pad
    - filter_size) // stride + 1``.  Computed by the 2-d convolution on a
    dummy trailing axis of length 1.

    Parameters
    ----------
    incoming : a Layer or a shape tuple (the channel count must be known)
    num_filters : int
    filter_size : int
    stride : int
    pad : 'valid', 'full', 'same' or int
        As in :class:`Conv2DLayer`, along the one axis.
    untie_biases : bool
        True: b of shape (num_filters, out_length).
    W : initialiser, array or shared variable
        Filters of shape (num_filters, in_channels, filter_size).
    b : initialiser, array, shared variable or None (no bias)
    nonlinearity : callable or None (linear); default ``rectify``
    flip_filters : bool
        True (the default): a true convolution; False: a cross-correlation.
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> l_conv = Conv1DLayer(InputLayer((None, 8, 100)), num_filters=16, filter_size=5,
    ...                      pad='same', name='conv1')
    >>> l_conv.W.get_value().shape, l_conv.output_shape
    ((16, 8, 5), (None, 16, 100))
    """

    default_name = "conv"

    def __init__(self, incoming, num_filters, filter_size, stride=1, pad=0,
                 untie_biases=False, W=init.GlorotUniform(), b=init.Constant(0.0),
                 nonlinearity=nonlinearities.rectify, flip_filters=True, name=None):
        super().__init__(incoming, name)
        _check_input(self, 3, "batch, channels, length")
        self.num_filters = _num_filters(self, num_filters)
        self.filter_size = (int_param(self, filter_size, "filter_size", 1),)
        self.stride = (int_param(self, stride, "stride", 1),)
        self.pad = self._resolve_pad(pad)
        self.untie_biases = bool(untie_biases)
        self.flip_filters = bool(flip_filters)
        self.nonlinearity = nonlinearity or nonlinearities.identity
        out_shape = self.get_output_shape_for(self.input_shape)
        self.W = self.add_param(W, self.get_W_shape(), "W")
        self.b = _conv_bias(self, b, out_shape)

    def _resolve_pad(self, pad):
        k = self.filter_size[0]
        if pad == "valid":
            return (0,)
        if pad == "full":
            return (k - 1,)
        if pad == "same":
            if k % 2 == 0:
                raise self.fail(f"pad='same' needs an odd filter size, got {k}; pad with an "
                                "int instead")
            return (k // 2,)
        if isinstance(pad, str):
            raise self.fail(f"pad {pad!r} is unknown; use 'valid', 'full', 'same' or an int")
        return (int_param(self, pad, "pad", 0),)

    def get_W_shape(self):
        """Shape of the filters: (num_filters, in_channels, filter_size)."""
        return (self.num_filters, self.input_shape[1]) + self.filter_size

    def get_output_shape_for(self, input_shape):
        length = _output_length(input_shape[2], self.filter_size[0], self.stride[0],
                                self.pad[0], 1)
        if length is not None and length <= 0:
            raise self.fail(f"the filter size {self.filter_size[0]} (pad {self.pad[0]}) does "
                            f"not fit in the input of shape {tuple(input_shape)}; use a "
                            "smaller filter or more padding")
        return (input_shape[0], self.num_filters, length)

    def get_output_for(self, input, **kwargs):
        shape = tuple(self.input_shape) + (1,)
        conved = T.nnet.conv2d(T.dimshuffle(input, (0, 1, 2, "x")),
                               T.dimshuffle(self.W, (0, 1, 2, "x")), input_shape=shape,
                               filter_shape=self.get_W_shape() + (1,),
                               border_mode=(self.pad[0], 0), subsample=(self.stride[0], 1),
                               filter_flip=self.flip_filters)
        return self.nonlinearity(_add_bias(self, conved[:, :, :, 0], 1))


def _transposed_length(length, filter_size, stride, crop):
    """Lasagne's ``conv_input_length``: ``(length - 1) * stride - 2 * crop + filter_size``."""
    if length is None:
        return None
    return (length - 1) * stride - 2 * crop + filter_size


class TransposedConv2DLayer(Layer):
    """Transposed 2-d convolution ("deconvolution"): the gradient of a 2-d convolution
    with respect to its input, ``nonlinearity(conv2d_grad_wrt_inputs(input, W) + b)``.

    Each input position adds its values times the filters into the output,
    ``stride`` apart; ``crop`` removes that many entries from both ends of
    each output axis.  The output length along each axis is
    ``(length - 1) * stride - 2 * crop + filter_size`` (or ``output_size``).
    It is the transpose of a :class:`Conv2DLayer` with the same ``W``,
    ``stride`` and ``pad=crop`` and the opposite ``flip_filters`` (both
    defaults), going from its output shape back to its input shape.

    Parameters
    ----------
    incoming : a Layer or a shape tuple (4-d, the channel count must be known)
    num_filters : int
        Number of output channels.
    filter_size : int or (int, int)
    stride : int or (int, int)
    crop : 'valid', 'full', 'same', int or (int, int)
        'valid' (= 0): no cropping; 'full': crop filter_size - 1; 'same':
        crop half the (odd) filter size, so that the output has the input's
        size for stride 1; an int or a pair: that many on both sides.
    untie_biases : bool
        True: b of shape (num_filters, out_rows, out_cols).
    W : initialiser, array or shared variable
        Filters of shape (in_channels, num_filters, filter_rows, filter_cols),
        as Lasagne (the filters of the convolution this one transposes).
    b : initialiser, array, shared variable or None (no bias)
    nonlinearity : callable or None (linear); default ``rectify``
    flip_filters : bool
        False (the default, as in Lasagne): each input value scatters the
        flipped filters (the transposed convolution is a correlation); True:
        the filters as they are.  The inverse of Conv2DLayer's flag.
    output_size : int, (int, int) or None
        The output's spatial size when a stride makes it ambiguous (it may
        exceed the computed size by up to stride - 1).
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> l_in = InputLayer((None, 16, 7, 7))
    >>> l_up = TransposedConv2DLayer(l_in, num_filters=8, filter_size=4, stride=2, crop=1,
    ...                              name='up1')
    >>> l_up.W.get_value().shape, l_up.output_shape
    ((16, 8, 4, 4), (None, 8, 14, 14))
    """

    default_name = "deconv"

    def __init__(self, incoming, num_filters, filter_size, stride=(1, 1), crop=0,
                 untie_biases=False, W=init.GlorotUniform(), b=init.Constant(0.0),
                 nonlinearity=nonlinearities.rectify, flip_filters=False, output_size=None,
                 name=None):
        super().__init__(incoming, name)
        _check_input(self, 4, "batch, channels, rows, cols")
        self.num_filters = _num_filters(self, num_filters)
        self.filter_size = int_pair_param(self, filter_size, "filter_size", 1)
        self.stride = int_pair_param(self, stride, "stride", 1)
        self.crop = self._resolve_crop(crop)
        self.untie_biases = bool(untie_biases)
        self.flip_filters = bool(flip_filters)
        self.nonlinearity = nonlinearity or nonlinearities.identity
        self.output_size = None if output_size is None else \
            int_pair_param(self, output_size, "output_size", 1)
        out_shape = self.get_output_shape_for(self.input_shape)
        self.W = self.add_param(W, self.get_W_shape(), "W")
        self.b = _conv_bias(self, b, out_shape)

    def _resolve_crop(self, crop):
        if crop == "valid":
            return (0, 0)
        if crop == "full":
            return tuple(k - 1 for k in self.filter_size)
        if crop == "same":
            if any(k % 2 == 0 for k in self.filter_size):
                raise self.fail(f"crop='same' needs odd filter sizes, got {self.filter_size}; "
                                "crop with an int pair instead")
            return tuple(k // 2 for k in self.filter_size)
        if isinstance(crop, str):
            raise self.fail(f"crop {crop!r} is unknown; use {_PADS}")
        return int_pair_param(self, crop, "crop", 0)

    def get_W_shape(self):
        """Shape of the filters: (in_channels, num_filters, filter_rows, filter_cols)."""
        return (self.input_shape[1], self.num_filters) + self.filter_size

    def get_output_shape_for(self, input_shape):
        spatial = []
        for axis in range(2):
            length = _transposed_length(input_shape[2 + axis], self.filter_size[axis],
                                        self.stride[axis], self.crop[axis])
            if length is not None and length <= 0:
                raise self.fail(f"crop {self.crop} removes the whole output of the input of "
                                f"shape {tuple(input_shape)} (filter_size {self.filter_size}, "
                                f"stride {self.stride})")
            if self.output_size is not None:
                want = self.output_size[axis]
                if length is not None and not length <= want < length + self.stride[axis]:
                    raise self.fail(f"output_size {self.output_size} does not fit the input of "
                                    f"shape {tuple(input_shape)}: along axis {2 + axis} it must "
                                    f"be in [{length}, {length + self.stride[axis] - 1}]")
                length = want
            spatial.append(length)
        return (input_shape[0], self.num_filters) + tuple(spatial)

    def get_output_for(self, input, **kwargs):
        size = self.get_output_shape_for(self.input_shape)[2:]
        rows, cols = [
            n if n is not None else _transposed_length(T.shape_i(input, 2 + axis),
                                                       self.filter_size[axis],
                                                       self.stride[axis], self.crop[axis])
            for axis, n in enumerate(size)]
        conved = conv2d_grad_wrt_inputs(input, self.W, (None, self.num_filters, rows, cols),
                                        filter_shape=self.get_W_shape(), border_mode=self.crop,
                                        subsample=self.stride,
                                        filter_flip=not self.flip_filters)
        return self.nonlinearity(_add_bias(self, conved, 2))


Deconv2DLayer = TransposedConv2DLayer  # Lasagne's other name
