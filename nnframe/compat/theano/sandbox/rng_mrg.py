"""``from theano.sandbox.rng_mrg import MRG_RandomStreams``: nnframe's random streams.

The numbers come from Philox (see :mod:`nnframe.tensor.random`), not from
Theano's MRG31k3p: the same seed gives the same numbers on every nnframe
backend, not Theano's numbers.  As in Theano, the default seed is 12345.
"""
from nnframe.tensor.random import RandomStream

__all__ = ["MRG_RandomStreams"]


class MRG_RandomStreams(RandomStream):  # noqa: N801  (Theano's name)
    """Theano's ``MRG_RandomStreams(seed=12345)``: a :class:`RandomStream`."""

    def __init__(self, seed=12345, name="rng"):
        super().__init__(seed, name=name)
