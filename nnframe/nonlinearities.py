"""Nonlinearities for layers (Lasagne's ``lasagne.nonlinearities``).

>>> from nnframe import nonlinearities
>>> nonlinearities.rectify is nonlinearities.relu
True
"""
import nnframe.tensor as T

__all__ = ["sigmoid", "softmax", "tanh", "ScaledTanH", "ScaledTanh", "rectify", "relu",
           "LeakyRectify", "leaky_rectify", "very_leaky_rectify", "elu", "selu", "softplus",
           "linear", "identity"]


def sigmoid(x):
    """Logistic sigmoid 1 / (1 + exp(-x))."""
    return T.nnet.sigmoid(x)


def softmax(x):
    """Softmax over the last axis (rows of a matrix)."""
    return T.nnet.softmax(x)


def tanh(x):
    """Hyperbolic tangent."""
    return T.tanh(x)


class ScaledTanH:
    """``scale_out * tanh(scale_in * x)``."""

    def __init__(self, scale_in=1.0, scale_out=1.0):
        self.scale_in, self.scale_out = scale_in, scale_out

    def __call__(self, x):
        return self.scale_out * T.tanh(self.scale_in * x)


ScaledTanh = ScaledTanH


def rectify(x):
    """Rectified linear unit max(x, 0)."""
    return T.nnet.relu(x)


relu = rectify


class LeakyRectify:
    """``max(x, leakiness * x)``."""

    def __init__(self, leakiness=0.01):
        self.leakiness = leakiness

    def __call__(self, x):
        return T.nnet.relu(x, self.leakiness)


leaky_rectify = LeakyRectify(0.01)
very_leaky_rectify = LeakyRectify(1.0 / 3)


def elu(x):
    """Exponential linear unit: x if x > 0 else exp(x) - 1."""
    return T.nnet.elu(x)


def selu(x, alpha=1.6732632423543772, scale=1.0507009873554805):
    """Scaled exponential linear unit (Klambauer et al. 2017)."""
    return scale * T.nnet.elu(x, alpha)


def softplus(x):
    """log(1 + exp(x)), computed stably."""
    return T.nnet.softplus(x)


def linear(x):
    """The identity."""
    return x


identity = linear
