"""DenseLayer and NonlinearityLayer."""
import numpy as np

import nnframe.tensor as T
from nnframe import init, nonlinearities
from nnframe.layers.base import Layer

__all__ = ["DenseLayer", "NonlinearityLayer"]


class DenseLayer(Layer):
    """A fully connected layer: ``nonlinearity(dot(input, W) + b)``.

    Parameters
    ----------
    incoming : a Layer or a shape tuple
    num_units : int
        Number of outputs.
    W, b : initialiser, array or shared variable (``b=None``: no bias)
        W has shape (num_inputs, num_units), b (num_units,).
    nonlinearity : callable or None (linear); default ``rectify``
    num_leading_axes : int
        Axes kept as they are (1: a batch of vectors); the rest are flattened.

    >>> from nnframe.layers import InputLayer
    >>> l = DenseLayer(InputLayer((None, 1, 8, 8)), 10, name='out')
    >>> l.W.get_value().shape, l.output_shape
    ((64, 10), (None, 10))
    """

    default_name = "dense"

    def __init__(self, incoming, num_units, W=init.GlorotUniform(), b=init.Constant(0.0),
                 nonlinearity=nonlinearities.rectify, num_leading_axes=1, name=None):
        super().__init__(incoming, name)
        if not isinstance(num_units, (int, np.integer)) or num_units <= 0:
            raise self.fail(f"num_units must be a positive integer, got {num_units!r}")
        self.num_units = int(num_units)
        self.nonlinearity = nonlinearity or nonlinearities.identity
        ndim = len(self.input_shape)
        if not 1 <= num_leading_axes < ndim:
            raise self.fail(f"num_leading_axes={num_leading_axes} does not fit an input of shape "
                            f"{self.input_shape} (needs 1 <= num_leading_axes < {ndim})")
        self.num_leading_axes = num_leading_axes
        trailing = self.input_shape[num_leading_axes:]
        if any(s is None for s in trailing):
            source = f" from {self.input_layer.describe()}" if self.input_layer else ""
            raise self.fail(f"the input shape {self.input_shape}{source} has unknown lengths in "
                            "the axes that are flattened; give them in the InputLayer shape")
        self.num_inputs = int(np.prod(trailing))
        self.W = self.add_param(W, (self.num_inputs, self.num_units), "W")
        self.b = None if b is None else self.add_param(b, (self.num_units,), "b",
                                                        regularizable=False)

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape[:self.num_leading_axes]) + (self.num_units,)

    def get_output_for(self, input, **kwargs):
        if input.ndim > self.num_leading_axes + 1:
            input = T.flatten(input, self.num_leading_axes + 1)
        activation = T.dot(input, self.W)
        if self.b is not None:
            activation = activation + self.b
        return self.nonlinearity(activation)


class NonlinearityLayer(Layer):
    """Applies ``nonlinearity`` elementwise (or row-wise for softmax)."""

    default_name = "nonlinearity"

    def __init__(self, incoming, nonlinearity=nonlinearities.rectify, name=None):
        super().__init__(incoming, name)
        self.nonlinearity = nonlinearity or nonlinearities.identity

    def get_output_for(self, input, **kwargs):
        return self.nonlinearity(input)
