"""Parameter initialisers (Lasagne's ``lasagne.init``).

An initialiser is called with a shape and returns a ``config.floatX`` array.
Random ones take ``seed=None``: with a seed they always give the same array;
without, they draw from :func:`nnframe.rng.get_rng` (seed that for
reproducible models).

>>> from nnframe import init
>>> W = init.GlorotUniform(seed=0)((784, 512))
>>> W.shape, W.dtype
((784, 512), dtype('float32'))
"""
import numpy as np

from nnframe.config import config
from nnframe.rng import get_rng

__all__ = ["Initializer", "Constant", "Normal", "Uniform", "Glorot", "GlorotUniform",
           "GlorotNormal", "He", "HeUniform", "HeNormal", "Orthogonal"]


def _as_float(array):
    return np.asarray(array, dtype=config.floatX)


class Initializer:
    """Base class: ``init(shape)`` (or ``init.sample(shape)``) returns an array."""

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape):
        return self.sample(shape)

    def rng(self):
        return np.random.default_rng(self.seed) if self.seed is not None else get_rng()

    def sample(self, shape):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if v is not None)
        return f"{type(self).__name__}({args})"


class Constant(Initializer):
    """Every entry equal to ``val``."""

    def __init__(self, val=0.0):
        super().__init__()
        self.val = val

    def sample(self, shape):
        return _as_float(np.full(shape, self.val))


class Normal(Initializer):
    """Gaussian entries with mean ``mean`` and standard deviation ``std``."""

    def __init__(self, std=0.01, mean=0.0, seed=None):
        super().__init__(seed)
        self.std, self.mean = std, mean

    def sample(self, shape):
        return _as_float(self.rng().normal(self.mean, self.std, size=shape))


class Uniform(Initializer):
    """Uniform entries in ``range`` (a pair) or ``[-range, range]``.

    With ``std`` given instead, the range is ``mean +- sqrt(3) * std``.
    """

    def __init__(self, range=0.01, std=None, mean=0.0, seed=None):
        super().__init__(seed)
        if std is not None:
            low, high = mean - np.sqrt(3) * std, mean + np.sqrt(3) * std
        elif isinstance(range, (tuple, list)):
            low, high = range
        else:
            low, high = mean - range, mean + range
        self.range = (float(low), float(high))

    def sample(self, shape):
        return _as_float(self.rng().uniform(self.range[0], self.range[1], size=shape))


def _fans(shape):
    """(fan_in, fan_out): dense (in, out); conv (out_ch, in_ch, *receptive field)."""
    if len(shape) < 2:
        raise ValueError(f"this initialiser needs at least 2 dimensions, got shape {shape}")
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[2:]))
    return shape[1] * receptive, shape[0] * receptive


def _gain(gain):
    if gain == "relu":
        return np.sqrt(2.0)
    return float(gain)


class Glorot(Initializer):
    """Glorot/Xavier scaling of ``initializer`` (a Normal or Uniform class).

    std = gain * sqrt(2 / (fan_in + fan_out)).  ``gain='relu'`` is sqrt(2).
    """

    def __init__(self, initializer, gain=1.0, seed=None):
        super().__init__(seed)
        self.initializer = initializer
        self.gain = gain

    def _std(self, shape):
        fan_in, fan_out = _fans(shape)
        return _gain(self.gain) * np.sqrt(2.0 / (fan_in + fan_out))

    def sample(self, shape):
        return self.initializer(std=self._std(shape), seed=self.seed).sample(shape)


class GlorotUniform(Glorot):
    """Glorot scaling with uniform entries (Lasagne's default for weights)."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(Uniform, gain, seed)


class GlorotNormal(Glorot):
    """Glorot scaling with Gaussian entries."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(Normal, gain, seed)


class He(Glorot):
    """He scaling: std = gain * sqrt(1 / fan_in)."""

    def _std(self, shape):
        fan_in, _ = _fans(shape)
        return _gain(self.gain) * np.sqrt(1.0 / fan_in)


class HeUniform(He):
    """He scaling with uniform entries."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(Uniform, gain, seed)


class HeNormal(He):
    """He scaling with Gaussian entries."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(Normal, gain, seed)


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2013); >2-d shapes are
    flattened to (shape[0], prod(rest))."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def sample(self, shape):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal needs at least 2 dimensions, got shape {shape}")
        flat = (shape[0], int(np.prod(shape[1:])))
        a = self.rng().normal(0.0, 1.0, flat)
        u, _, v = np.linalg.svd(a, full_matrices=False)
        q = u if u.shape == flat else v
        return _as_float(_gain(self.gain) * q.reshape(shape))
