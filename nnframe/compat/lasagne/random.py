"""``lasagne.random``: ``get_rng()`` (a ``numpy.random.RandomState``) and ``set_rng(rng)``.

See :mod:`nnframe.random_state`: the RandomState shares its numbers with the
generator nnframe's initialisers and noise layers draw from.
"""
from nnframe.random_state import get_rng, set_rng

__all__ = ["get_rng", "set_rng"]
