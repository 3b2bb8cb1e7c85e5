"""Views: nodes whose output is their input's elements seen another way (no C at all).

A view rule ``rule(node, base) -> bool | None`` says whether ``node``'s
output can be a view of ``base`` (the :class:`~nnframe.backends.native.segment.Value`
of its first input) for every shape, and if so whether that view is
C-contiguous for sure.  Where the elements are (offset, strides) is found
when a plan is made, by the node's own NumPy kernel applied to a stand-in
array laid out like the base (see plan.py), so no stride arithmetic is
written twice.  A rule returns None when the output cannot always be a view
(a Reshape of a transposed value): the node then needs an emitter (a copy).
"""
from nnframe.backends.native.registry import register_view
from nnframe.core.ops.shape import DimShuffle, Reshape


@register_view(DimShuffle)
def dimshuffle_view(node, base):
    """Always a view; contiguous when the kept axes stay in order (only 'x' axes move)."""
    kept = [o for o in node.op.new_order if o != "x"]
    return base.contiguous and kept == sorted(kept)


@register_view(Reshape)
def reshape_view(node, base):
    """A view of a contiguous value (NumPy's reshape then never copies)."""
    return True if base.contiguous else None
