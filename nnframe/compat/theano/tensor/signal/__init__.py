"""``theano.tensor.signal``: only ``pool`` (``pool_2d``)."""
from nnframe.compat.theano.tensor.signal import pool

__all__ = ["pool"]
