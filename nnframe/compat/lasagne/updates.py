"""``lasagne.updates``: the public names of :mod:`nnframe.optim` (the same objects)."""
from nnframe.optim import *  # noqa: F403
from nnframe.optim import __all__  # noqa: F401
