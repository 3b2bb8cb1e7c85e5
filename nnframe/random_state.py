"""Lasagne's ``lasagne.random``: ``get_rng()`` / ``set_rng(rng)`` with NumPy's RandomState API.

nnframe keeps one NumPy generator for everything random done when a model is
*built* (initial weights, the seeds of dropout streams): :mod:`nnframe.rng`
holds it as a ``numpy.random.Generator``.  Lasagne code expects a
``numpy.random.RandomState`` instead (``get_rng().randint(...)``,
``.uniform``, ``.normal``, ``.rand`` ...).  This module gives it one that
*shares the bit generator* of nnframe's generator, so both views draw from one
stream: numbers taken through either advance the other, and seeding one seeds
both.

>>> import numpy as np
>>> from nnframe import random_state
>>> random_state.set_rng(np.random.RandomState(42))
>>> rs = random_state.get_rng()
>>> isinstance(rs, np.random.RandomState), rs is random_state.get_rng()
(True, True)

``set_rng`` takes a ``RandomState`` (kept as is: ``get_rng()`` returns that
very object), a ``numpy.random.Generator``, an int seed or a SeedSequence;
nnframe's initialisers and noise layers then draw from it.  Nothing changes
for code that uses :func:`nnframe.rng.set_rng` (recipes): the Generator's
numbers are the same as before.
"""
import numpy as np

from nnframe import rng as _nnrng

__all__ = ["get_rng", "set_rng"]

#: (the nnframe Generator, the RandomState sharing its bit generator)
_view = (None, None)


def get_rng():
    """The current generator as a ``numpy.random.RandomState`` (Lasagne's ``get_rng``).

    It shares its bit generator with :func:`nnframe.rng.get_rng`, so drawing from
    it advances the numbers nnframe's initialisers and noise layers get.
    """
    global _view
    generator = _nnrng.get_rng()
    if _view[0] is not generator:
        _view = (generator, np.random.RandomState(generator.bit_generator))
    return _view[1]


def set_rng(new_rng):
    """Make ``new_rng`` the source of randomness for model construction.

    Parameters
    ----------
    new_rng : numpy.random.RandomState, numpy.random.Generator, int or SeedSequence
        A RandomState is used as is (draws through nnframe go to its bit
        generator); the others are as for :func:`nnframe.rng.set_rng`.
    """
    global _view
    if isinstance(new_rng, np.random.RandomState):
        bit_generator = getattr(new_rng, "_bit_generator", None)
        if bit_generator is None:  # a NumPy without the attribute: seed from it instead
            generator = _nnrng.set_rng(int(new_rng.randint(0, 2 ** 63, dtype=np.int64)))
            _view = (generator, np.random.RandomState(generator.bit_generator))
            return
        generator = _nnrng.set_rng(np.random.Generator(bit_generator))
        _view = (generator, new_rng)
        return
    _nnrng.set_rng(new_rng)     # a Generator, a seed or a SeedSequence (or its TypeError)
