"""``theano.tensor.nnet``: ``conv2d``, ``sigmoid``, ``softmax``, ``relu``, crossentropies ...

The public names of :mod:`nnframe.tensor.nnet` (the same objects).
"""
from nnframe.tensor.nnet import *  # noqa: F403
from nnframe.tensor.nnet import conv2d, softmax  # noqa: F401  (Theano's signatures)
