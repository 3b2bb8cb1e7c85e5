"""``theano.printing``: ``pp``, ``debugprint``, ``pydotprint`` (nnframe's)."""
from nnframe.printing import *  # noqa: F403
from nnframe.printing import __all__  # noqa: F401
