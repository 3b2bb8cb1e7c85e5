"""The native backend's tables: Op class -> C emitter, and Op class -> view rule.

An *emitter* writes the C statements of one node inside the function's C
source; a *view rule* says, at plan time, where a view's elements are in
its input's buffer (no C at all).  Both are looked up through the Op
class's MRO, as every backend's table (:class:`~nnframe.backends.dispatch.KernelTable`).

An emitter is ``emit(node, seg) -> str | None``: ``seg`` is the
:class:`~nnframe.backends.native.segment.SegmentSource` being written,
whose :meth:`~nnframe.backends.native.segment.SegmentSource.operand` gives
each input and output as C expressions (pointer, lengths, strides).  It
returns None when it has no C form for this node (a dtype, a rank, no
BLAS): the node then runs its NumPy kernel between two native segments.

>>> from nnframe.core.ops.grad_ops import ZeroGrad
>>> @register(ZeroGrad)                              # doctest: +SKIP
... def emit_zero_grad(node, seg):
...     x, out = seg.operand(node.inputs[0]), seg.operand(node.outputs[0])
...     return f"for (long i = 0; i < {out.size}; i++) {out.ptr}[i] = {x.at_flat('i')};"
"""
from nnframe.backends.dispatch import KernelTable

__all__ = ["register", "register_view", "emitter_for", "view_rule_for", "EMITTERS", "VIEWS"]

_EMITTERS = KernelTable()
_VIEWS = KernelTable()

#: Op class -> ``emit(node, seg) -> C statements or None``
EMITTERS = _EMITTERS.kernels
#: Op class -> ``rule(node, seg) -> ViewRule or None`` (see views.py)
VIEWS = _VIEWS.kernels

#: Decorator: ``@register(OpClass, ...)`` on an emitter
register = _EMITTERS.register
#: Decorator: ``@register_view(OpClass, ...)`` on a view rule factory
register_view = _VIEWS.register


def emitter_for(op):
    """The emitter of ``op``'s class (or its nearest base class), else None."""
    return _EMITTERS.lookup(op)


def view_rule_for(op):
    """The view rule factory of ``op``'s class, else None."""
    return _VIEWS.lookup(op)
