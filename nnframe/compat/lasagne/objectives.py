"""``lasagne.objectives``: the public names of :mod:`nnframe.losses` (the same objects)."""
from nnframe.losses import *  # noqa: F403
from nnframe.losses import __all__  # noqa: F401
