"""``lasagne.utils``: the public names of :mod:`nnframe.utils` (the same objects)."""
from nnframe.utils import *  # noqa: F403
from nnframe.utils import __all__  # noqa: F401
