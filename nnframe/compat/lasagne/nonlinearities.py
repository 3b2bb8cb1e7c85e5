"""``lasagne.nonlinearities``: the public names of :mod:`nnframe.nonlinearities` (the same objects)."""
from nnframe.nonlinearities import *  # noqa: F403
from nnframe.nonlinearities import __all__  # noqa: F401
