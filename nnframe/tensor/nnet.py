"""``T.nnet``: neural-network ops (activations, softmax, crossentropies, conv, pooling)."""
from nnframe.core.ops.conv import *  # noqa: F401,F403
from nnframe.core.ops.nnet import *  # noqa: F401,F403
from nnframe.core.ops.pool import *  # noqa: F401,F403
