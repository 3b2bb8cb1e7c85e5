"""NumPy kernels for the gradient-control ops: all are the identity forward."""
from nnframe.backends.numpy.registry import register
from nnframe.core.ops.grad_ops import StraightThrough, _IdentityForward


@register(_IdentityForward)
def identity_kernel(node):
    return lambda x: x


@register(StraightThrough)
def straight_through_kernel(node):
    return lambda forward, backward: forward
