"""``lasagne.init``: the public names of :mod:`nnframe.init` (the same objects)."""
from nnframe.init import *  # noqa: F403
from nnframe.init import __all__  # noqa: F401
