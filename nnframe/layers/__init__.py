"""Lasagne-style layers on nnframe's graph: ``from nnframe.layers import DenseLayer``.

>>> import nnframe.tensor as T
>>> from nnframe import function, layers
>>> l_in = layers.InputLayer((None, 4))
>>> l_out = layers.DenseLayer(l_in, 2, nonlinearity=None, name='out')
>>> f = function([l_in.input_var], layers.get_output(l_out))
"""
# Every module's public names (its ``__all__``) are here, so a new layer needs no edit of
# this file; tests/test_namespaces.py checks it.
from nnframe.layers import base as _base
from nnframe.layers import binary as _binary
from nnframe.layers import conv as _conv
from nnframe.layers import dense as _dense
from nnframe.layers import embedding as _embedding
from nnframe.layers import helper as _helper
from nnframe.layers import input as _input
from nnframe.layers import merge as _merge
from nnframe.layers import noise as _noise
from nnframe.layers import normalization as _normalization
from nnframe.layers import pool as _pool
from nnframe.layers import recurrent as _recurrent
from nnframe.layers import shape as _shape
from nnframe.layers.base import *  # noqa: F403
from nnframe.layers.binary import *  # noqa: F403
from nnframe.layers.conv import *  # noqa: F403
from nnframe.layers.dense import *  # noqa: F403
from nnframe.layers.embedding import *  # noqa: F403
from nnframe.layers.helper import *  # noqa: F403
from nnframe.layers.input import *  # noqa: F403
from nnframe.layers.merge import *  # noqa: F403
from nnframe.layers.noise import *  # noqa: F403
from nnframe.layers.normalization import *  # noqa: F403
from nnframe.layers.pool import *  # noqa: F403
from nnframe.layers.recurrent import *  # noqa: F403
from nnframe.layers.shape import *  # noqa: F403

MODULES = (_base, _input, _dense, _helper, _noise, _conv, _pool, _normalization, _shape,
           _merge, _embedding, _binary, _recurrent)
__all__ = [name for module in MODULES for name in module.__all__]
