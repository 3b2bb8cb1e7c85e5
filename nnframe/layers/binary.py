"""BinaryCodeLayer: the ``sgn`` code layer of hashing networks.

The layer maps real activations ``z`` to a binary code in {-1, +1}
(``sgn`` with 0 -> +1).  ``sgn`` has a zero gradient almost everywhere, so
how the layer is trained is chosen by ``estimator``:

=============  ===============================  ==================================
estimator      training output                  gradient w.r.t. z (incoming ``g``)
=============  ===============================  ==================================
'none'         sgn(z)                           0 (exactly, as Theano's ``sgn``)
'identity'     sgn(z)                           g (straight-through)
'hardtanh'     sgn(z)                           g * 1{|z| <= 1} (BinaryNet)
'noise'        tanh(z + sigma * eps)            g * (1 - tanh(z + sigma * eps)**2)
=============  ===============================  ==================================

``eps ~ N(0, 1)`` is drawn anew on every call from the layer's own random
stream (seeded from :func:`nnframe.rng.get_rng` when the layer is built,
state variables ``<layer>/state<k>``).  With ``deterministic=True`` every
estimator outputs ``sgn(z)``.
"""
from typing import Literal, get_args

import numpy as np

import nnframe.tensor as T
from nnframe.core.ops.grad_ops import sign_pm1
from nnframe.layers.base import Layer
from nnframe.layers.noise import _layer_stream

__all__ = ["BinaryCodeLayer"]

#: how gradients pass the sign (the annotation lets recipes offer exactly these)
Estimator = Literal["none", "identity", "hardtanh", "noise"]
ESTIMATORS = get_args(Estimator)


class BinaryCodeLayer(Layer):
    """Binary codes ``sgn(z)`` in {-1, +1} (0 -> +1) of the incoming activations.

    Parameters
    ----------
    incoming : a Layer or a shape tuple
    estimator : 'none', 'identity', 'hardtanh' or 'noise'
        How gradients pass the sign in training (see the module docstring):
        'none' stops them (exactly zero), 'identity' and 'hardtanh' are
        straight-through estimators (``T.ste_sign``), 'noise' outputs the
        smooth ``tanh(z + sigma * eps)`` in training instead of the sign.
    sigma : float >= 0
        Standard deviation of the noise of the 'noise' estimator.
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer, DenseLayer, get_output
    >>> l_enc = DenseLayer(InputLayer((None, 64)), 16, nonlinearity=None, name='enc1')
    >>> l_code = BinaryCodeLayer(l_enc, estimator='hardtanh', name='code')
    >>> codes = get_output(l_code, deterministic=True)     # values in {-1, +1}
    """

    default_name = "binarycode"

    def __init__(self, incoming, estimator: Estimator = "identity", sigma=3.0, name=None):
        super().__init__(incoming, name)
        if estimator not in ESTIMATORS:
            raise self.fail(f"estimator {estimator!r} is unknown; use one of "
                            f"{', '.join(map(repr, ESTIMATORS))}")
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.integer,
                                                             np.floating)) or sigma < 0:
            raise self.fail(f"sigma must be a number >= 0, got {sigma!r}")
        self.estimator = estimator
        self.sigma = float(sigma)
        self._srng = _layer_stream(self) if estimator == "noise" else None

    def get_output_for(self, input, deterministic=False, **kwargs):
        if self.estimator == "none" or (deterministic and self.estimator == "noise"):
            return sign_pm1(input)
        if self.estimator == "noise":
            eps = self._srng.normal(T.shape(input), ndim=input.ndim, dtype=input.dtype)
            return T.tanh(input + self.sigma * eps)
        return T.ste_sign(input, self.estimator)
