"""The gradient-control ops (identities forward) and Map (the inner function per index).

``Map`` runs its inner graph once per index; on this backend it uses the
host fallback (the NumPy kernel, which compiles the inner graph for NumPy):
the free inputs are downloaded once per call and the stacked result is
uploaded when a device kernel reads it.  Both transfers are counted.
"""
from nnframe.backends.opencl.registry import register
from nnframe.core.ops.grad_ops import StraightThrough, _IdentityForward
from nnframe.core.ops.loop import Map

__all__ = []


@register(_IdentityForward)
def identity_kernel(node, builder):
    return lambda x: x


@register(StraightThrough)
def straight_through_kernel(node, builder):
    return lambda forward, backward: forward


@register(Map)
def map_kernel(node, builder):
    return None  # the host fallback (see the module docstring)
