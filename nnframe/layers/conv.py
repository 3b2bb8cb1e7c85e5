"""Conv2DLayer: 2-d convolution of NCHW image batches (Lasagne's ``Conv2DLayer``)."""
import numpy as np

import nnframe.tensor as T
from nnframe import init, nonlinearities
from nnframe.core.ops.conv import conv_output_length, effective_size
from nnframe.layers.base import Layer

__all__ = ["Conv2DLayer"]

_PADS = "'valid', 'full', 'same', an int or a pair of ints"


def _output_length(length, filter_size, stride, pad, dilation):
    """Output length of a convolution along one axis; None when ``length`` is None."""
    if length is None:
        return None
    return conv_output_length(length, filter_size, pad, stride, dilation)


def int_pair_param(layer, value, what, minimum):
    """``value`` (an int or a pair of ints >= minimum) as a pair; else ``layer``'s error."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else value
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2 or
            not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair)
            or any(v < minimum for v in pair)):
        raise layer.fail(f"{what} must be an int or a pair of ints >= {minimum}, got {value!r}")
    return tuple(int(v) for v in pair)


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
        if len(self.input_shape) != 4:
            raise self.fail(f"needs a 4-d input (batch, channels, rows, cols), got the shape "
                            f"{self.input_shape}{self._source()}")
        if self.input_shape[1] is None:
            raise self.fail(f"the number of input channels of the shape {self.input_shape}"
                            f"{self._source()} is unknown; give it in the InputLayer shape")
        if isinstance(num_filters, bool) or not isinstance(num_filters, (int, np.integer)) or \
                num_filters <= 0:
            raise self.fail(f"num_filters must be a positive integer, got {num_filters!r}")
        self.num_filters = int(num_filters)
        self.filter_size = int_pair_param(self, filter_size, "filter_size", 1)
        self.stride = int_pair_param(self, stride, "stride", 1)
        self.dilation = int_pair_param(self, dilation, "dilation", 1)
        self.pad = self._resolve_pad(pad)
        self.untie_biases = bool(untie_biases)
        self.flip_filters = bool(flip_filters)
        self.nonlinearity = nonlinearity or nonlinearities.identity
        out_shape = self.get_output_shape_for(self.input_shape)
        self.W = self.add_param(W, self.get_W_shape(), "W")
        if b is None:
            self.b = None
        elif self.untie_biases:
            if None in out_shape[2:]:
                raise self.fail(f"untie_biases=True needs a known output size, but the input "
                                f"shape {self.input_shape} gives {out_shape}")
            self.b = self.add_param(b, out_shape[1:], "b", regularizable=False)
        else:
            self.b = self.add_param(b, (self.num_filters,), "b", regularizable=False)

    def _source(self):
        return f" from {self.input_layer.describe()}" if self.input_layer else ""

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
        if self.b is None:
            activation = conved
        elif self.untie_biases:
            activation = conved + T.dimshuffle(self.b, ("x", 0, 1, 2))
        else:
            activation = conved + T.dimshuffle(self.b, ("x", 0, "x", "x"))
        return self.nonlinearity(activation)
