"""``theano.scan_module``: ``scan``, ``until``, ``map``, ``reduce``, ``foldl``, ``foldr``."""
from nnframe.scan_module import *  # noqa: F403
from nnframe.scan_module import __all__  # noqa: F401
