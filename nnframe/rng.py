"""The NumPy random generator behind initialisers and noise layers' seeds.

Like ``lasagne.random``: everything that needs randomness when a model is
*built* (initial weights, the seeds of dropout streams) draws from one
generator, so seeding it makes model construction reproducible.

>>> from nnframe import rng
>>> _ = rng.set_rng(42)       # a seed or a numpy Generator
>>> g = rng.get_rng()
"""
import numpy as np

__all__ = ["get_rng", "set_rng"]

_rng = np.random.default_rng(0)


def get_rng():
    """The current ``numpy.random.Generator``."""
    return _rng


def set_rng(seed_or_generator):
    """Use a new generator: an int seed, a SeedSequence or a numpy Generator."""
    global _rng
    if isinstance(seed_or_generator, np.random.Generator):
        _rng = seed_or_generator
    elif isinstance(seed_or_generator, (int, np.integer, np.random.SeedSequence)):
        _rng = np.random.default_rng(seed_or_generator)
    else:
        raise TypeError("set_rng takes an int seed, a SeedSequence or a numpy Generator, got "
                        f"{type(seed_or_generator).__name__}")
    return _rng
