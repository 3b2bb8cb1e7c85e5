"""``theano.tensor.shared_randomstreams.RandomStreams``: nnframe's ``T.random.RandomStreams``."""
from nnframe.tensor.random import RandomStream, RandomStreams

__all__ = ["RandomStreams", "RandomStream"]
