"""``from theano.tensor.signal.pool import pool_2d``: nnframe's ``T.nnet.pool_2d``
(Theano 1.0's parameters; ``ignore_border`` defaults to True, see its docstring)."""
from nnframe.tensor.nnet import pool_2d

__all__ = ["pool_2d"]
