"""``import nnframe.compat.lasagne as lasagne``: Lasagne's modules on nnframe.

``lasagne.layers`` (and ``lasagne.layers.dnn``), ``nonlinearities``, ``init``,
``updates`` (nnframe.optim), ``objectives`` (nnframe.losses), ``regularization``,
``random`` and ``utils``.
"""
from nnframe.compat.lasagne import (
    init,
    layers,
    nonlinearities,
    objectives,
    random,
    regularization,
    updates,
    utils,
)

__all__ = ["layers", "nonlinearities", "init", "updates", "objectives", "regularization",
           "random", "utils"]
