"""``lasagne.regularization``: the public names of :mod:`nnframe.regularization` (the same objects)."""
from nnframe.regularization import *  # noqa: F403
from nnframe.regularization import __all__  # noqa: F401
