"""``lasagne.layers``: every public name of :mod:`nnframe.layers`, and ``layers.dnn``."""
from importlib import import_module as _import_module

from nnframe.layers import *  # noqa: F403
from nnframe.layers import __all__ as _layers_all

dnn = _import_module("nnframe.compat.lasagne.layers.dnn")

__all__ = list(_layers_all) + ["dnn"]
