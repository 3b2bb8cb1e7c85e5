"""Theano's ``theano.ifelse`` module: ``from nnframe.ifelse import ifelse``.

``ifelse(condition, then_branch, else_branch)`` computes only the branch the
scalar ``condition`` selects (see :mod:`nnframe.core.ops.ifelse`); it is also
``T.ifelse``.

>>> import numpy as np, nnframe.tensor as T
>>> from nnframe import function
>>> from nnframe.ifelse import ifelse
>>> a, b = T.dscalars('a', 'b')
>>> x, y = T.dmatrices('x', 'y')
>>> f = function([a, b, x, y], ifelse(T.lt(a, b), T.mean(x), T.mean(y)))
>>> f(1.0, 2.0, np.ones((2, 2)), np.zeros((2, 2)))
array(1.)
"""
from nnframe.core.ops.ifelse import IfElse, ifelse

__all__ = ["ifelse", "IfElse"]
