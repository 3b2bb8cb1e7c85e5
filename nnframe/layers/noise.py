"""Noise layers: DropoutLayer and GaussianNoiseLayer (Lasagne's ``lasagne.layers.noise``).

Both are the identity when ``get_output(..., deterministic=True)`` (test
time).  In training each one draws from its own random stream, seeded from
:func:`nnframe.rng.get_rng` when the layer is built, so seeding that
generator (``nnframe.rng.set_rng(seed)``) makes the noise reproducible.  The
stream is named after the layer: its state variables are ``<layer>/state0``,
``<layer>/state1``, ... (one per ``get_output`` call), and every call of a
compiled function draws new numbers (the states' ``default_update``).

>>> from nnframe.layers import InputLayer
>>> l_in = InputLayer((None, 100))
>>> l_drop = DropoutLayer(l_in, p=0.2, name='drop1')
>>> l_drop.output_shape
(None, 100)
"""
import numpy as np

import nnframe.tensor as T
from nnframe.layers.base import Layer
from nnframe.rng import get_rng

__all__ = ["DropoutLayer", "dropout", "GaussianNoiseLayer"]


def _layer_stream(layer):
    """A RandomStream named after ``layer``, seeded from the global generator."""
    seed = int(get_rng().integers(0, 2 ** 63))
    return T.random.RandomStream(seed, name=layer.name)


def _check_probability(layer, value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise layer.fail(f"{what} must be a number in [0, 1), got {value!r}")
    if not 0.0 <= float(value) < 1.0:
        raise layer.fail(f"{what} must be in [0, 1), got {value!r}")
    return float(value)


class DropoutLayer(Layer):
    """Dropout: sets each input to zero with probability ``p`` in training.

    In training the output is ``input * mask / (1 - p)`` (``rescale=True``,
    so the expected value is unchanged) or ``input * mask``
    (``rescale=False``), where ``mask`` is Bernoulli(1 - p).  With
    ``deterministic=True`` the output is the input (no rescaling: the
    training output is already scaled to match it).

    Parameters
    ----------
    incoming : a Layer or a shape tuple
    p : float in [0, 1)
        The probability of dropping an entry.
    rescale : bool
        Divide the kept entries by ``1 - p`` in training.
    shared_axes : tuple of int
        Axes along which the mask is shared (one draw broadcast along them),
        e.g. ``(2, 3)`` drops whole feature maps of an NCHW input
        (spatial dropout).
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer, get_output
    >>> l_drop = DropoutLayer(InputLayer((None, 64)), p=0.5)
    >>> y_train = get_output(l_drop)                      # random mask
    >>> y_test = get_output(l_drop, deterministic=True)   # the input itself
    """

    default_name = "dropout"

    def __init__(self, incoming, p=0.5, rescale=True, shared_axes=(), name=None):
        super().__init__(incoming, name)
        self.p = _check_probability(self, p, "p (the dropout probability)")
        self.rescale = bool(rescale)
        self.shared_axes = self._check_axes(shared_axes)
        self._srng = _layer_stream(self)

    def _check_axes(self, shared_axes):
        ndim = len(self.input_shape)
        axes = (shared_axes,) if isinstance(shared_axes, (int, np.integer)) else shared_axes
        checked = []
        for axis in axes:
            if not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
                raise self.fail(f"shared_axes {shared_axes!r} must be axes of the input of shape "
                                f"{self.input_shape} (ints in [{-ndim}, {ndim}))")
            checked.append(int(axis) % ndim)
        return tuple(sorted(set(checked)))

    def get_output_for(self, input, deterministic=False, **kwargs):
        if deterministic or self.p == 0.0:
            return input
        retain = 1.0 - self.p
        if self.rescale:
            input = input / retain
        mask_shape = [1 if axis in self.shared_axes else T.shape_i(input, axis)
                      for axis in range(input.ndim)]
        mask = self._srng.binomial(mask_shape, p=retain, dtype=input.dtype)
        return input * mask


dropout = DropoutLayer  # Lasagne's short name


class GaussianNoiseLayer(Layer):
    """Adds Gaussian noise ``N(0, sigma**2)`` to every entry in training.

    The output is ``input + sigma * eps`` with ``eps`` standard normal,
    drawn anew on every call; with ``deterministic=True`` it is the input.

    Parameters
    ----------
    incoming : a Layer or a shape tuple
    sigma : float >= 0
        Standard deviation of the noise.
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> l_noise = GaussianNoiseLayer(InputLayer((None, 10)), sigma=0.3)
    """

    default_name = "gaussiannoise"

    def __init__(self, incoming, sigma=0.1, name=None):
        super().__init__(incoming, name)
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.integer,
                                                             np.floating)) or sigma < 0:
            raise self.fail(f"sigma must be a number >= 0, got {sigma!r}")
        self.sigma = float(sigma)
        self._srng = _layer_stream(self)

    def get_output_for(self, input, deterministic=False, **kwargs):
        if deterministic or self.sigma == 0.0:
            return input
        noise = self._srng.normal(T.shape(input), std=self.sigma, ndim=input.ndim,
                                  dtype=input.dtype)
        return input + noise
