"""``theano.sandbox``: only ``rng_mrg`` (``MRG_RandomStreams``)."""
from nnframe.compat.theano.sandbox import rng_mrg

__all__ = ["rng_mrg"]
